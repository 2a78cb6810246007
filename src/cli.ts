import { join } from 'node:path'
import { createApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { openPostgresStore } from './store/postgres-store.ts'
import { DatabaseInUseError, openSqliteStore } from './store/sqlite-store.ts'
import { VERSION } from './version.ts'

const HELP = `switchboard ${VERSION}: integration channel server

Usage: switchboard <command>

Commands:
  serve     start the server (default). Configured by SWITCHBOARD_* environment variables:
            SWITCHBOARD_HOST, SWITCHBOARD_PORT, SWITCHBOARD_DATA_DIR, SWITCHBOARD_ADMIN_KEY,
            SWITCHBOARD_DATABASE_URL, SWITCHBOARD_LICENSE, SWITCHBOARD_LOG_LEVEL, … (docs/configuration.md)
  migrate   create or upgrade the database schema, then exit
  help      show this text
`

async function serve(): Promise<void> {
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
        `  curl -sS -X POST ${url}/rest/v1/service/integration_points \\`,
        `    -H "Authorization: Bearer ${key}" -H 'Content-Type: application/json' \\`,
        `    -d '{"code":"first","type":"public","opts":{"issync":true}}'`,
      )
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    app.logger.info({ signal }, 'shutting down')
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

async function migrate(): Promise<void> {
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

async function main(argv: readonly string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv
  if (rest.length > 0) {
    process.stderr.write(`switchboard ${command}: unexpected arguments: ${rest.join(' ')}\n`)
    return 2
  }
  switch (command) {
    case 'serve':
      await serve()
      return 0
    case 'migrate':
      await migrate()
      return 0
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP)
      return 0
    default:
      process.stderr.write(`switchboard: unknown command '${command}'\n\n${HELP}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code)
  },
  (error: unknown) => {
    // Operational errors (bad configuration, data directory in use) are explained, not traced.
    if (error instanceof ConfigError || error instanceof DatabaseInUseError)
      process.stderr.write(`switchboard: ${error.message}\n`)
    else process.stderr.write(`switchboard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  },
)
