import { CliError } from './cli/api-client.ts'
import { channels } from './cli/channels.ts'
import { deliveries } from './cli/deliveries.ts'
import { exec } from './cli/exec.ts'
import { executions } from './cli/executions.ts'
import { scripts } from './cli/scripts.ts'
import { SERVER_COMMANDS } from './cli/server-commands.ts'
import { keys, users } from './cli/users.ts'
import { ConfigError } from './config.ts'
import { VERSION } from './version.ts'
import { DatabaseInUseError } from './workers/data-dir-lock.ts'

const HELP = `switchboard ${VERSION}: integration channel server

Usage: switchboard <command> [options]

The server (configured by SWITCHBOARD_* environment variables: docs/configuration.md):
  serve                    start the server (the default). SIGTERM or SIGINT shut it down gracefully
  migrate                  create or upgrade the database schema, then exit
  backup <file>            copy the embedded database into <file>, while the server runs

A client of a running server (SWITCHBOARD_URL and SWITCHBOARD_KEY, or --url and --key):
  channels list|get|create|update|delete|rotate     channels (integration points)
  scripts list|get|pull|push                        service scripts; as files: pull and push <dir>
  exec <channel-code>                               send the channel a test webhook
  executions list|get|replay|tail                   recorded runs; tail follows them
  deliveries list|retry                             events delivered to channels' urls; retry failed ones
  users list|get|create|update|delete               the domain's users
  keys list|create|delete                           their API keys

  help [command]           this text, or a command's ('switchboard scripts --help',
                           'switchboard channels create --help' too)
  version                  the version

Every client command takes --output json (JSON for scripts) and --field <path> (one field).
Exit codes: 0 done, 1 failed, 2 the command line is wrong. docs/cli.md has examples.
`

const CLIENT_COMMANDS: Readonly<Record<string, (args: readonly string[]) => Promise<number>>> = {
  channels,
  scripts,
  exec,
  executions,
  deliveries,
  users,
  keys,
}

/** The exit code, or undefined for a server that keeps running. */
async function main(argv: readonly string[]): Promise<number | undefined> {
  const [command = 'serve', ...rest] = argv
  const client = Object.hasOwn(CLIENT_COMMANDS, command) ? CLIENT_COMMANDS[command] : undefined
  if (client) return client(rest)
  const server = Object.hasOwn(SERVER_COMMANDS, command) ? SERVER_COMMANDS[command] : undefined
  if (server) return server(rest)
  if (command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0]
    if (topic !== undefined && Object.hasOwn(CLIENT_COMMANDS, topic))
      return (CLIENT_COMMANDS[topic] as typeof channels)(['--help'])
    if (topic !== undefined && Object.hasOwn(SERVER_COMMANDS, topic))
      return (SERVER_COMMANDS[topic] as typeof channels)(['--help'])
    process.stdout.write(HELP)
    return 0
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  process.stderr.write(`switchboard: unknown command '${command}'\n\n${HELP}`)
  return 2
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
