/** Largest JSON text of one part of an execution record (input, output), in characters. */
const MAX_RECORDED_CHARS = 64 * 1024

/**
 * A part of an execution record that is JSON text already (a webhook's body as received, a
 * script's output as the isolate wrote it): the record takes it as it is, so no byte of it is
 * parsed or serialised again on the way to the store.
 */
export class JsonText {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/** `null` as a record part. */
export const NULL_JSON = new JsonText('null')

/**
 * A part of an execution record, bounded: JSON text up to `maxChars`, else
 * `{truncated: true, size, preview}` (SPEC §5.5). A value is serialised once, here; text is
 * measured by its length.
 */
export function bounded(value: unknown, maxChars = MAX_RECORDED_CHARS): JsonText {
  const text = value instanceof JsonText ? value.text : (JSON.stringify(value) ?? 'null')
  if (text.length <= maxChars) return value instanceof JsonText ? value : new JsonText(text)
  return new JsonText(JSON.stringify({ truncated: true, size: text.length, preview: text.slice(0, maxChars) }))
}

// Stand-ins for the parts that are text already, in the JSON of the rest of a record. Input and
// output come before the parts a script controls (logs, error), so the first occurrence is theirs.
const INPUT = '\u0000input\u0000'
const OUTPUT = '\u0000output\u0000'
const INPUT_JSON = JSON.stringify(INPUT)
const OUTPUT_JSON = JSON.stringify(OUTPUT)

/** The JSON text of a record whose `input` and `output` are JsonText (bounded()). */
export function recordJson(record: { readonly input: unknown; readonly output: unknown }): string {
  const { input, output } = record
  if (!(input instanceof JsonText) || !(output instanceof JsonText)) return JSON.stringify(record, plainText)
  return JSON.stringify({ ...record, input: INPUT, output: OUTPUT })
    .replace(INPUT_JSON, () => input.text)
    .replace(OUTPUT_JSON, () => output.text)
}

/** A JsonText among values serialised the slow way: its parsed value. */
function plainText(_key: string, value: unknown): unknown {
  return value instanceof JsonText ? JSON.parse(value.text) : value
}
