import { type ParseArgsOptionsConfig, parseArgs } from 'node:util'
import { ConfigError, loadClientConfig } from '../config.ts'
import { ApiClient, CliError } from './api-client.ts'
import { type OutputMode, print } from './output.ts'

/** Flag values as parseArgs gives them. */
export type Values = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>

/** What a command's `run` gets: its flags, its positionals (their count checked), the output mode and the server. */
export interface Invocation {
  readonly values: Values
  readonly args: readonly string[]
  readonly output: OutputMode
  /** The command's name as typed, for messages: `channels create`. */
  readonly name: string
  /** The API client for the flags and the environment (made when first asked for: `--help` needs no key). */
  api(): ApiClient
}

/** One command of a group, e.g. `channels create`. */
export interface Command {
  /** Its positionals, as help shows them: `['<code>']`; one in brackets (`[<id>]`) may be left out. */
  readonly args?: readonly string[]
  /** One line: what it does (the group's help lists it). */
  readonly summary: string
  /** More: options, output, examples (the command's own help). */
  readonly details?: string
  readonly options?: ParseArgsOptionsConfig
  run(invocation: Invocation): Promise<number>
}

/** A group of client commands, e.g. `channels`. */
export interface Group {
  readonly name: string
  /** What the group is about, on top of its help. */
  readonly intro: string
  readonly commands: Readonly<Record<string, Command>>
  /** Other names of commands: `{'rotate-token': 'rotate'}`. */
  readonly aliases?: Readonly<Record<string, string>>
}

/** Options every client command takes. */
const CLIENT_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  domain: { type: 'string' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  field: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig

const CLIENT_HELP = `Reaching the server (flags win over the environment):
  --url <url>           SWITCHBOARD_URL, default http://127.0.0.1:8080
  --key <key>           SWITCHBOARD_KEY (else SWITCHBOARD_ADMIN_KEY): an API key or the root key
  --domain <name>       SWITCHBOARD_DOMAIN: with the root key, the domain to act in (default: default)
Output:
  -o, --output <mode>   text (default) or json: the server's entities as JSON (--json too)
  --field <path>        only this field of the answer (a dotted path: opts.title), one line per entity
  -h, --help            this text

Exit codes: 0 done; 1 failed (the server refused or could not be reached, a file could not
be read); 2 the command line is wrong.
`

const OUTPUT_MODES = ['text', 'json'] as const

/** A usage mistake (exit code 2), pointing to the command's help. */
export function usageError(message: string, command: string): CliError {
  return new CliError(`${message} (see 'switchboard ${command} --help')`, 2)
}

/** `value` when it is one of `allowed`, else a usage error that lists them. */
export function choice<T extends string>(flag: string, value: string, allowed: readonly T[], command: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw usageError(`${flag} ${value}: use one of ${allowed.join(', ')}`, command)
}

/** A whole number from `min` to `max`, else a usage error saying so. */
export function whole(flag: string, value: string, min: number, max: number, command: string, unit = ''): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw usageError(`${flag} ${value}: must be a whole number${unit} from ${min} to ${max}`, command)
  }
  return n
}

/** A flag's string value (undefined when absent). */
export function text(values: Values, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

/** A repeatable flag's values. */
export function texts(values: Values, name: string): string[] {
  const value = values[name]
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}

/** `switchboard <group> …`: the group's help, a command's help, or the command. */
export async function runGroup(group: Group, argv: readonly string[]): Promise<number> {
  const [given, ...rest] = argv
  if (given === undefined) {
    // No command: the help, as a usage mistake (stderr, exit code 2).
    process.stderr.write(groupHelp(group))
    return 2
  }
  if (given === 'help' || given === '--help' || given === '-h') {
    const topic = rest[0] === undefined ? undefined : commandOf(group, rest[0])
    print(topic ? commandHelp(group, topic[0], topic[1]) : groupHelp(group))
    return 0
  }
  const found = commandOf(group, given)
  if (!found) throw usageError(`unknown ${group.name} command '${given}'`, group.name)
  const [name, command] = found
  return runCommand(`${group.name} ${name}`, command, rest, () => commandHelp(group, name, command))
}

/** One command: its help, or its run with the flags and positionals checked. */
export async function runCommand(
  full: string,
  command: Command,
  argv: readonly string[],
  help: () => string = () => commandHelp(undefined, full, command),
): Promise<number> {
  const { values, positionals } = parse(argv, command.options ?? {}, full)
  if (values.help) {
    print(help())
    return 0
  }
  const names = command.args ?? []
  const required = names.filter((name) => !name.startsWith('['))
  if (positionals.length < required.length) throw usageError(`missing ${required.slice(positionals.length).join(' and ')}`, full)
  if (positionals.length > names.length)
    throw usageError(`unexpected arguments: ${positionals.slice(names.length).join(' ')}`, full)
  const output = {
    json: values.json === true || choice('--output', text(values, 'output') ?? 'text', OUTPUT_MODES, full) === 'json',
    field: text(values, 'field'),
  }
  let client: ApiClient | undefined
  const api = () => {
    client ??= clientOf(values)
    return client
  }
  return command.run({ values, args: positionals, output, name: full, api })
}

function commandOf(group: Group, name: string): [string, Command] | undefined {
  const canonical = group.aliases?.[name] ?? name
  const command = Object.hasOwn(group.commands, canonical) ? group.commands[canonical] : undefined
  return command ? [canonical, command] : undefined
}

function parse(args: readonly string[], options: ParseArgsOptionsConfig, command: string) {
  try {
    return parseArgs({ args: [...args], options: { ...CLIENT_OPTIONS, ...options }, allowPositionals: true, strict: true })
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error)
    throw usageError(message, command)
  }
}

function clientOf(values: Values): ApiClient {
  try {
    return new ApiClient(loadClientConfig({ url: text(values, 'url'), key: text(values, 'key'), domain: text(values, 'domain') }))
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 2)
    throw error
  }
}

function usageLine(group: Group | undefined, name: string, command: Command): string {
  return [...(group === undefined ? [] : [group.name]), name, ...(command.args ?? [])].join(' ')
}

function groupHelp(group: Group): string {
  const entries = Object.entries(group.commands)
  const lines = entries.map(([name, command]) => usageLine(group, name, command))
  const width = Math.max(...lines.map((line) => line.length)) + 2
  const list = entries.map(([, command], i) => `  ${(lines[i] as string).padEnd(width)}${command.summary}`).join('\n')
  const aliases = Object.entries(group.aliases ?? {})
    .map(([alias, name]) => `${group.name} ${alias} is ${group.name} ${name}`)
    .join('; ')
  return `Usage: switchboard ${group.name} <command> [options]

${group.intro}

${list}
${aliases === '' ? '' : `(${aliases})\n`}
'switchboard ${group.name} <command> --help' explains one.

${CLIENT_HELP}`
}

function commandHelp(group: Group | undefined, name: string, command: Command): string {
  return `Usage: switchboard ${usageLine(group, name, command)} [options]

${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.
${command.details === undefined ? '' : `\n${command.details.trimEnd()}\n`}
${CLIENT_HELP}`
}

/**
 * `--set <path>=<value>` flags as a PATCH body: `opts.recv_timeout=30` → `{opts: {recv_timeout: 30}}`.
 * A value that parses as JSON is that JSON (`null` deletes a key, `[]`, `true`, numbers); anything
 * else is a string.
 */
export function assignments(sets: readonly string[], command: string): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  for (const set of sets) {
    const equals = set.indexOf('=')
    const path = equals < 1 ? [] : set.slice(0, equals).split('.')
    if (path.length === 0 || path.some((key) => key === '' || key === '__proto__')) {
      throw usageError(`--set ${set}: use <field>=<value>`, command)
    }
    const raw = set.slice(equals + 1)
    let value: unknown = raw
    try {
      value = JSON.parse(raw)
    } catch {
      // Not JSON: the text itself.
    }
    let target = body
    for (const key of path.slice(0, -1)) {
      const next = target[key]
      if (next === null || typeof next !== 'object') target[key] = {}
      target = target[key] as Record<string, unknown>
    }
    target[path.at(-1) as string] = value
  }
  return body
}
