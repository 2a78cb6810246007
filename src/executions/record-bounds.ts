/** Largest JSON text of one part of an execution record (input, output), in characters. */
export const MAX_RECORDED_CHARS = 64 * 1024

/** Bounds a value for the execution record: too large becomes `{truncated: true, size, preview}`. */
export function bounded(value: unknown, maxChars = MAX_RECORDED_CHARS): unknown {
  const text = JSON.stringify(value)
  if (text === undefined) return null
  if (text.length <= maxChars) return value
  return { truncated: true, size: text.length, preview: text.slice(0, maxChars) }
}
