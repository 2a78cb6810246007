// One Switchboard worker in this process (no supervisor) on a fresh data directory, with the
// benches' channels (support/bench-entities.ts): what revisions.ts compares across revisions, and
// with BENCH_CLUSTER=1 one node of cluster mode: PostgreSQL (BENCH_DATABASE_URL, a schema of its
// own) and NATS (BENCH_NATS_URL, a prefix of its own), both removed again when it stops.
// Prints READY {"url", "key", "channelId", "syncToken", "asyncToken", "wsToken", "filesToken"} when it listens.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import pg from 'pg'
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { BENCH_KEY, createBenchEntities } from '../support/bench-entities.ts'

const key = BENCH_KEY
const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'))
const cluster = process.env.BENCH_CLUSTER === '1'
const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const natsUrl = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222'
const run = randomBytes(6).toString('hex')
const schema = `bench_${run}`
const prefix = `bench${run}`
// OTEL_* pass through: `OTEL_EXPORTER_OTLP_ENDPOINT=… bin/bench revisions` measures tracing on.
const otel = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_')))
const config = {
  ...loadConfig({
    ...otel,
    SWITCHBOARD_LOG_LEVEL: 'warn',
    ...(cluster && { SWITCHBOARD_DATABASE_URL: databaseUrl, SWITCHBOARD_NATS_URL: natsUrl, SWITCHBOARD_NATS_PREFIX: prefix }),
  }),
  host: '127.0.0.1',
  port: 0,
  dataDir,
  adminKey: key,
}
const app = await createApp(config, cluster ? { postgresSchema: schema } : {})
const url = await app.listen()

/** Removes what a cluster-mode run left in PostgreSQL and NATS. */
async function removeClusterState(): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  await client.query(`drop schema if exists "${schema}" cascade`).finally(() => client.end())
  const connection = await connect({ servers: natsUrl })
  const manager = await jetstreamManager(connection)
  for (const stream of [`${prefix}_jobs`, `OBJ_${prefix}_files`]) await manager.streams.delete(stream).catch(() => {})
  await connection.close()
}

const info = { url, key, ...(await createBenchEntities(url)) }
process.stdout.write(`READY ${JSON.stringify(info)}\n`)
process.on('SIGTERM', () =>
  app.close().then(async () => {
    rmSync(dataDir, { recursive: true, force: true })
    if (cluster) await removeClusterState()
    process.exit(0)
  }),
)
