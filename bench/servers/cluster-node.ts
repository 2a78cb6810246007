// One Switchboard node in cluster mode for bench/cluster.ts: PostgreSQL and NATS from the
// SWITCHBOARD_* environment, in the schema of BENCH_PG_SCHEMA. Prints READY {"url"} when it listens.
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'

const schema = process.env.BENCH_PG_SCHEMA
const app = await createApp(loadConfig(), schema === undefined ? {} : { postgresSchema: schema })
const url = await app.listen()
process.stdout.write(`READY ${JSON.stringify({ url })}\n`)
process.on('SIGTERM', () =>
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  ),
)
