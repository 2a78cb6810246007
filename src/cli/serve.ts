import { join } from 'node:path'
import { createApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import { openPostgresStore } from '../store/postgres-store.ts'
import { openSqliteStore } from '../store/sqlite-store.ts'
import { VERSION } from '../version.ts'

/** Past the shutdown bound, this much more for the script hosts, the records and the store; then the process leaves anyway. */
const SHUTDOWN_SLACK_MS = 20_000

/** `switchboard serve`: starts the server; SIGTERM or SIGINT shut it down gracefully (exit 0). */
export async function serve(): Promise<void> {
  const config = loadConfig()
  const app = await createApp(config)
  const url = await app.listen()
  const lines = [`Switchboard ${VERSION} listening on ${url}`]
  if (app.firstStart) {
    const key = app.rootKey.generated ?? (config.adminKey !== undefined ? '$SWITCHBOARD_ADMIN_KEY' : undefined)
    if (app.rootKey.generated) lines.push(`Root key (shown only now; keep it safe): ${app.rootKey.generated}`)
    else if (config.adminKey !== undefined) lines.push('Root key: the value of SWITCHBOARD_ADMIN_KEY')
    if (key !== undefined) {
      lines.push(
        'Create a first channel:',
        `  SWITCHBOARD_URL=${url} SWITCHBOARD_KEY=${key} bin/switchboard channels create first --sync`,
        'or with curl:',
        `  curl -sS -X POST ${url}/rest/v1/service/integration_points \\`,
        `    -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\`,
        `    -d '{"code":"first","type":"public","opts":{"issync":true}}'`,
      )
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) {
      app.logger.warn({ signal }, 'second signal during shutdown; leaving at once')
      process.exit(1)
    }
    stopping = true
    app.logger.info({ signal, timeout_ms: config.shutdownTimeoutMs }, 'shutting down')
    setTimeout(() => {
      app.logger.error({ ms: config.shutdownTimeoutMs + SHUTDOWN_SLACK_MS }, 'shutdown took too long; leaving')
      process.exit(1)
    }, config.shutdownTimeoutMs + SHUTDOWN_SLACK_MS).unref()
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

/** `switchboard migrate`: creates or upgrades the schema, then exits. */
export async function migrate(): Promise<void> {
  const config = loadConfig()
  const store = config.databaseUrl
    ? await openPostgresStore({ url: config.databaseUrl })
    : openSqliteStore(join(config.dataDir, 'switchboard.db'))
  try {
    await store.migrate()
    process.stdout.write(`schema is up to date (${store.kind})\n`)
  } finally {
    await store.close()
  }
}
