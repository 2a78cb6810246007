import { CliError } from './cli/api-client.ts'
import { channels } from './cli/channels.ts'
import { exec } from './cli/exec.ts'
import { executions } from './cli/executions.ts'
import { scripts } from './cli/scripts.ts'
import { migrate, serve } from './cli/serve.ts'
import { ConfigError } from './config.ts'
import { VERSION } from './version.ts'
import { DatabaseInUseError } from './workers/data-dir-lock.ts'

const HELP = `switchboard ${VERSION}: integration channel server

Usage: switchboard <command> [options]

The server:
  serve                    start the server (the default). Configured by SWITCHBOARD_* environment
                           variables: SWITCHBOARD_HOST, SWITCHBOARD_PORT, SWITCHBOARD_DATA_DIR,
                           SWITCHBOARD_ADMIN_KEY, SWITCHBOARD_DATABASE_URL, SWITCHBOARD_LOG_LEVEL, …
                           (docs/configuration.md). SIGTERM or SIGINT shut it down gracefully.
  migrate                  create or upgrade the database schema, then exit

A client of a running server (SWITCHBOARD_URL and SWITCHBOARD_KEY, or --url and --key):
  channels list|get|create|rotate-token    manage channels
  scripts pull|push <dir>  scripts as files (<code>.js|.ts + <code>.meta.json); push --dry-run diffs
  exec <channel-code>      send the channel a test webhook
  executions tail          follow executions as they are recorded

  help [command]           this text, or a command's ("switchboard scripts --help" too)
  version                  the version

Exit codes: 0 done, 1 failed, 2 the command line is wrong. docs/cli.md has examples.
`

const COMMANDS: Readonly<Record<string, (args: readonly string[]) => Promise<number>>> = { channels, scripts, exec, executions }

/** The exit code, or undefined for a server that keeps running. */
async function main(argv: readonly string[]): Promise<number | undefined> {
  const [command = 'serve', ...rest] = argv
  const client = COMMANDS[command]
  if (client) return client(rest)
  if (command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]]
    if (topic) return topic(['--help'])
    process.stdout.write(HELP)
    return 0
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  if (command !== 'serve' && command !== 'migrate') {
    process.stderr.write(`switchboard: unknown command '${command}'\n\n${HELP}`)
    return 2
  }
  if (rest.length > 0) {
    process.stderr.write(`switchboard ${command}: unexpected arguments: ${rest.join(' ')}\n`)
    return 2
  }
  if (command === 'migrate') {
    await migrate()
    return 0
  }
  await serve()
  return undefined
}

main(process.argv.slice(2)).then(
  (code) => {
    // Every command but serve ends here: idle keep-alive connections of fetch must not hold it open.
    if (code !== undefined) process.exit(code)
  },
  (error: unknown) => {
    // Operational errors (bad configuration, data directory in use, a refused call) are explained, not traced.
    if (error instanceof CliError) {
      process.stderr.write(`switchboard: ${error.message}\n`)
      process.exit(error.exitCode)
    }
    if (error instanceof ConfigError || error instanceof DatabaseInUseError)
      process.stderr.write(`switchboard: ${error.message}\n`)
    else process.stderr.write(`switchboard: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  },
)
