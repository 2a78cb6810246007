import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import { type HostModule, ScriptApiError } from '../runtime/host-api.ts'

const ALGORITHMS = new Set(['md5', 'sha1', 'sha256', 'sha512'])
const ENCODINGS = new Set(['hex', 'base64', 'base64url'])
/** Largest input a crypto call takes, bytes: these calls block the script while they run. */
const MAX_INPUT_BYTES = 8 * 1024 * 1024

function bytes(name: string, value: unknown): Buffer {
  if (typeof value === 'string') return Buffer.from(value)
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  throw new ScriptApiError(`crypto: ${name} must be a string or a Uint8Array`)
}

function checked(name: string, value: unknown): Buffer {
  const buffer = bytes(name, value)
  if (buffer.length > MAX_INPUT_BYTES) throw new ScriptApiError(`crypto: ${name} is larger than ${MAX_INPUT_BYTES} bytes`)
  return buffer
}

function algorithm(value: unknown): string {
  if (typeof value !== 'string' || !ALGORITHMS.has(value))
    throw new ScriptApiError(`crypto: alg must be one of ${[...ALGORITHMS].join(', ')}`)
  return value
}

function encoding(value: unknown): 'hex' | 'base64' | 'base64url' {
  if (value === undefined || value === null) return 'hex'
  if (typeof value !== 'string' || !ENCODINGS.has(value))
    throw new ScriptApiError(`crypto: enc must be one of ${[...ENCODINGS].join(', ')}`)
  return value as 'hex' | 'base64' | 'base64url'
}

/** `crypto.hash`, `crypto.hmac`, `crypto.randomUUID`, `crypto.timingSafeEqual` (SPEC §4), computed by the host. */
export const cryptoModule: HostModule = {
  name: 'crypto',
  guest: `(call, callSync) => ({
    hash: (alg, data, enc) => callSync('hash', alg, data, enc),
    hmac: (alg, key, data, enc) => callSync('hmac', alg, key, data, enc),
    randomUUID: () => callSync('randomUUID'),
    timingSafeEqual: (a, b) => callSync('timingSafeEqual', a, b),
  })`,
  functions: {
    hash: {
      sync: true,
      run: (_scope, [alg, data, enc]) => createHash(algorithm(alg)).update(checked('data', data)).digest(encoding(enc)),
    },
    hmac: {
      sync: true,
      run: (_scope, [alg, key, data, enc]) =>
        createHmac(algorithm(alg), checked('key', key)).update(checked('data', data)).digest(encoding(enc)),
    },
    randomUUID: { sync: true, run: () => randomUUID() },
    timingSafeEqual: {
      sync: true,
      run: (_scope, [a, b]) => {
        const left = checked('a', a)
        const right = checked('b', b)
        return left.length === right.length && timingSafeEqual(left, right)
      },
    },
  },
}
