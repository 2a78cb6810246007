import { join } from 'node:path'
import { loadConfig } from '../config.ts'
import { createLogger } from '../logger.ts'
import { VERSION } from '../version.ts'
import { DataDirLock } from '../workers/data-dir-lock.ts'
import { Supervisor } from '../workers/supervisor.ts'

/** Past the shutdown bound, this much more for the workers to leave; then the supervisor leaves anyway. */
const SHUTDOWN_SLACK_MS = 25_000

/**
 * `switchboard serve`: starts a node — the supervisor and its workers (SPEC §13). SIGTERM or
 * SIGINT shut it down gracefully (exit 0); SIGHUP replaces the workers one after the other.
 */
export async function serve(): Promise<void> {
  const config = loadConfig()
  const logger = createLogger(config.logLevel).child({ supervisor: true })
  // The node owns its embedded data directory; its workers share the SQLite file.
  const lock = config.databaseUrl === undefined ? DataDirLock.acquire(join(config.dataDir, 'switchboard.db')) : undefined
  const supervisor = new Supervisor({ config, logger })
  let started: Awaited<ReturnType<Supervisor['start']>>
  try {
    started = await supervisor.start()
  } catch (error) {
    supervisor.kill()
    lock?.release()
    throw error
  }
  const { url } = started
  const lines = [`Switchboard ${VERSION} listening on ${url} (${config.workers} worker${config.workers === 1 ? '' : 's'})`]
  if (started.firstStart) {
    const key = started.rootKey ?? (config.adminKey !== undefined ? '$SWITCHBOARD_ADMIN_KEY' : undefined)
    if (started.rootKey) lines.push(`Root key (shown only now; keep it safe): ${started.rootKey}`)
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
      logger.warn({ signal }, 'second signal during shutdown; leaving at once')
      supervisor.kill()
      process.exit(1)
    }
    stopping = true
    logger.info({ signal, timeout_ms: config.shutdownTimeoutMs }, 'shutting down')
    setTimeout(() => {
      logger.error({ ms: config.shutdownTimeoutMs + SHUTDOWN_SLACK_MS }, 'shutdown took too long; leaving')
      supervisor.kill()
      process.exit(1)
    }, config.shutdownTimeoutMs + SHUTDOWN_SLACK_MS).unref()
    supervisor.stop().then(
      () => {
        lock?.release()
        logger.info('shut down')
        process.exit(0)
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: replacing the workers one after the other')
    supervisor.rollingRestart().catch((error: unknown) => logger.error({ err: error }, 'rolling restart failed'))
  })
}

/** `switchboard migrate`: creates or upgrades the schema, then exits. */
export async function migrate(): Promise<void> {
  const config = loadConfig()
  // Loaded here only: the supervisor of `serve` keeps no store (its memory stays small).
  const store = config.databaseUrl
    ? await (await import('../store/postgres-store.ts')).openPostgresStore({
        url: config.databaseUrl,
        // The migration's own statements fail on their own; this is an idle connection lost meanwhile.
        onError: (error) => process.stderr.write(`switchboard: a PostgreSQL connection failed: ${String(error)}\n`),
      })
    : (await import('../store/sqlite-store.ts')).openSqliteStore(join(config.dataDir, 'switchboard.db'))
  try {
    await store.migrate()
    process.stdout.write(`schema is up to date (${store.kind})\n`)
  } finally {
    await store.close()
  }
}
