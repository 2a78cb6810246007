// One node of a test cluster, in its own process: the whole server from the SWITCHBOARD_*
// environment, in the PostgreSQL schema of SWITCHBOARD_TEST_PG_SCHEMA. Prints `READY <url>`.
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'

const schema = process.env.SWITCHBOARD_TEST_PG_SCHEMA
const app = await createApp(loadConfig(), schema === undefined ? {} : { postgresSchema: schema })
const url = await app.listen()
process.stdout.write(`READY ${url}\n`)
process.on('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})
