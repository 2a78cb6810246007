/**
 * Bytes across the JSON IPC channel of the script hosts: a `Uint8Array` travels as
 * `{"$bytes": "<base64>"}` (the encoding scripts' outputs use) and is made bytes again on the
 * other side, so remote modules see the same values local ones do. Parts without bytes are
 * shared, not copied.
 */
export function encodeBytes(value: unknown): unknown {
  if (value instanceof Uint8Array)
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  return mapChildren(value, encodeBytes)
}

export function decodeBytes(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>
    const keys = Object.keys(record)
    if (keys.length === 1 && typeof record.$bytes === 'string') return new Uint8Array(Buffer.from(record.$bytes, 'base64'))
  }
  return mapChildren(value, decodeBytes)
}

function mapChildren(value: unknown, map: (child: unknown) => unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const item = map(value[i])
      if (item === value[i]) continue
      copy ??= [...value]
      copy[i] = item
    }
    return copy ?? value
  }
  const record = value as Record<string, unknown>
  let copy: Record<string, unknown> | undefined
  for (const key of Object.keys(record)) {
    const item = map(record[key])
    if (item === record[key]) continue
    copy ??= { ...record }
    copy[key] = item
  }
  return copy ?? record
}
