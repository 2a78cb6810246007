import { CliError } from './api-client.ts'

/** How a client command prints what it got: text for people, JSON or one field for scripts. */
export interface OutputMode {
  /** `--output json` (or `--json`): the server's entities as JSON. */
  readonly json: boolean
  /** `--field <path>`: only this field (a dotted path) of the entity, or of each listed entity, one per line. */
  readonly field: string | undefined
}

/** Writes `text` as whole lines (nothing for an empty text). */
export function print(text: string): void {
  if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** Prints one entity: its `--field`, its JSON, or `text()`. */
export function emit(mode: OutputMode, value: unknown, text: () => string): void {
  if (mode.field !== undefined) print(fieldText(value, mode.field))
  else if (mode.json) printJson(value)
  else print(text())
}

/** Prints a list: each item's `--field` on a line of its own, the JSON array, or `text()`. */
export function emitList(mode: OutputMode, items: readonly unknown[], text: () => string): void {
  if (mode.field !== undefined) {
    const field = mode.field
    if (items.length > 0) print(items.map((item) => fieldText(item, field)).join('\n'))
  } else if (mode.json) printJson(items)
  else print(text())
}

/** A field's value as a shell reads it: a string as is, anything else as compact JSON. */
function fieldText(value: unknown, path: string): string {
  let found: unknown = value
  for (const key of path.split('.')) {
    found =
      found !== null && typeof found === 'object' && Object.hasOwn(found, key)
        ? (found as Record<string, unknown>)[key]
        : undefined
    if (found === undefined) throw new CliError(`--field ${path}: the answer has no such field`)
  }
  return typeof found === 'string' ? found : JSON.stringify(found)
}

/** Rows as an aligned text table under `columns`, or `empty` when there are none. */
export function table(columns: readonly string[], rows: readonly (readonly string[])[], empty: string): string {
  if (rows.length === 0) return empty
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd()
  return [line(columns), ...rows.map(line)].join('\n')
}

/** A text cell: `-` for empty or missing values. */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-'
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.join(',')
  return typeof value === 'string' ? value : JSON.stringify(value)
}
