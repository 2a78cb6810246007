import { resolve } from 'node:path'
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'
import { loadConfig } from '../config.ts'
import { CliError } from './api-client.ts'
import { choice, text, usageError } from './command.ts'
import { print, printJson } from './output.ts'

const CONFIGURATION = `Configured by SWITCHBOARD_* environment variables (docs/configuration.md): SWITCHBOARD_HOST,
SWITCHBOARD_PORT, SWITCHBOARD_DATA_DIR, SWITCHBOARD_ADMIN_KEY, SWITCHBOARD_DATABASE_URL,
SWITCHBOARD_NATS_URL, SWITCHBOARD_WORKERS, SWITCHBOARD_LOG_LEVEL, …`

const SERVE_HELP = `Usage: switchboard serve

Starts the server: a supervisor and its worker processes on one port. The first start on an
empty store prints the root key (once) and how to create a first channel.

${CONFIGURATION}

SIGTERM or SIGINT shut it down gracefully (exit code 0); a second signal leaves at once (1).
SIGHUP replaces the workers one after the other. docs/operations.md has the details.
`

const MIGRATE_HELP = `Usage: switchboard migrate [options]

Creates or upgrades the database schema, then exits: for deployments that migrate before they
start (serve migrates too). In the embedded mode it works on SWITCHBOARD_DATA_DIR's database, in
cluster mode on SWITCHBOARD_DATABASE_URL.

${CONFIGURATION}
`

const BACKUP_HELP = `Usage: switchboard backup <file> [options]

Copies the embedded SQLite database (SWITCHBOARD_DATA_DIR/switchboard.db) into <file>, a new
file, while the server runs: the copy is one consistent snapshot, taken without stopping the
server's writes. <file> is complete or absent, never partial; an existing file is never
overwritten. Restore: stop the server, put the copy in place as switchboard.db (without the old
-wal and -shm files), start it (docs/operations.md#backup-and-restore-of-a-single-node).

The domains' files (SWITCHBOARD_DATA_DIR/files) are not in it: copy that directory too.
In cluster mode (SWITCHBOARD_DATABASE_URL) the state is in PostgreSQL: back it up with pg_dump.

  -o, --output <mode>   text (default) or json: {"database", "file", "bytes", "ms"}

${CONFIGURATION}
`

type ServerCommand = (args: readonly string[]) => Promise<number | undefined>

const OUTPUT_OPTIONS = { output: { type: 'string', short: 'o' }, json: { type: 'boolean' } } as const

/** The flags of a server command; `undefined` when --help was asked for (and printed). */
function parse(args: readonly string[], command: string, help: string, options: ParseArgsOptionsConfig = {}) {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    })
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error)
    throw usageError(message, command)
  }
  if (parsed.values.help) {
    print(help)
    return undefined
  }
  const json =
    parsed.values.json === true ||
    choice('--output', text(parsed.values, 'output') ?? 'text', ['text', 'json'], command) === 'json'
  return { ...parsed, json }
}

function noArguments(positionals: readonly string[], command: string): void {
  if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`, command)
}

export const SERVER_COMMANDS: Readonly<Record<string, ServerCommand>> = {
  async serve(args) {
    const parsed = parse(args, 'serve', SERVE_HELP)
    if (!parsed) return 0
    noArguments(parsed.positionals, 'serve')
    // Loaded here only: the client commands do not load the server.
    await (await import('./serve.ts')).serve()
    return undefined
  },

  async migrate(args) {
    const parsed = parse(args, 'migrate', MIGRATE_HELP)
    if (!parsed) return 0
    noArguments(parsed.positionals, 'migrate')
    await (await import('./serve.ts')).migrate()
    return 0
  },

  async backup(args) {
    const parsed = parse(args, 'backup', BACKUP_HELP, OUTPUT_OPTIONS)
    if (!parsed) return 0
    const [file, ...extra] = parsed.positionals
    if (file === undefined) throw usageError('missing <file>', 'backup')
    if (extra.length > 0) throw usageError(`unexpected arguments: ${extra.join(' ')}`, 'backup')
    const config = loadConfig()
    if (config.databaseUrl !== undefined) {
      throw new CliError(
        'SWITCHBOARD_DATABASE_URL is set: the state is in PostgreSQL; back it up with pg_dump (docs/operations.md#backup)',
      )
    }
    const { backupSqliteFile, BackupError } = await import('../store/sqlite-backup.ts')
    const database = resolve(config.dataDir, 'switchboard.db')
    const target = resolve(file)
    let done: { bytes: number; ms: number }
    try {
      done = backupSqliteFile(database, target)
    } catch (error) {
      if (error instanceof BackupError) throw new CliError(error.message)
      throw error
    }
    const ms = Math.round(done.ms)
    if (parsed.json) printJson({ database, file: target, bytes: done.bytes, ms })
    else print(`backed up ${database} into ${target} (${done.bytes} bytes, ${ms} ms)`)
    return 0
  },
}
