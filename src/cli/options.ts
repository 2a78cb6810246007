import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'
import { ConfigError, loadClientConfig } from '../config.ts'
import { ApiClient, CliError } from './api-client.ts'

/** Options every client command takes. */
const CLIENT_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  domain: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig

export const CLIENT_HELP = `Reaching the server (flags win over the environment):
  --url <url>       SWITCHBOARD_URL, default http://127.0.0.1:8080
  --key <key>       SWITCHBOARD_KEY (else SWITCHBOARD_ADMIN_KEY): an API key or the root key
  --domain <name>   SWITCHBOARD_DOMAIN: with the root key, the domain to act in (default: default)
  --json            machine-readable output (JSON)
  -h, --help        this text

Exit codes: 0 done; 1 failed (the server refused or could not be reached, a file could not
be read); 2 the command line is wrong.
`

/** A usage mistake (exit code 2), pointing to the command's help. */
export function usageError(message: string, command: string): CliError {
  return new CliError(`${message} (see 'switchboard ${command} --help')`, 2)
}

/** The command's flags and positionals; a wrong command line is a usage error. */
export function parseCommand<T extends ParseArgsOptionsConfig>(args: readonly string[], options: T, command: string) {
  try {
    return parseArgs({ args: [...args], options: { ...CLIENT_OPTIONS, ...options }, allowPositionals: true, strict: true })
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error)
    throw usageError(message, command)
  }
}

/** The API client for the flags and the environment. */
export function clientOf(values: { url?: string | boolean; key?: string | boolean; domain?: string | boolean }): ApiClient {
  const text = (value: string | boolean | undefined) => (typeof value === 'string' ? value : undefined)
  try {
    return new ApiClient(loadClientConfig({ url: text(values.url), key: text(values.key), domain: text(values.domain) }))
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2)
    throw error
  }
}

/** Exactly the positionals `names`, or a usage error naming what is missing. */
export function positionals(given: readonly string[], names: readonly string[], command: string): string[] {
  if (given.length < names.length) throw usageError(`missing ${names.slice(given.length).join(' and ')}`, command)
  if (given.length > names.length) throw usageError(`unexpected arguments: ${given.slice(names.length).join(' ')}`, command)
  return [...given]
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}
