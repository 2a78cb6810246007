import { hash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(value: string): boolean {
  return UUID.test(value)
}

export function newId(): string {
  return randomUUID()
}

let lastMs = 0
let sequence = 0

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in ms, then a 12-bit sequence (monotonic
 * within this process, for ids made in the same ms), then 62 random bits. Ids made later sort
 * after earlier ones, so records ordered by time then id keep the order they were made in.
 */
export function newTimeOrderedId(): string {
  let ms = Date.now()
  if (ms <= lastMs) {
    sequence++
    if (sequence > 0xfff) {
      lastMs++
      sequence = 0
    }
    ms = lastMs
  } else {
    lastMs = ms
    sequence = 0
  }
  const time = ms.toString(16).padStart(12, '0')
  // A v4 UUID's last 16 hex digits are the variant and 62 random bits, laid out as v7 wants
  // them; randomUUID() draws from a buffered pool (randomBytes per id cost ~10 µs under load).
  return `${time.slice(0, 8)}-${time.slice(8)}-7${sequence.toString(16).padStart(3, '0')}-${randomUUID().slice(19)}`
}

/** A channel token: 32 lowercase hex characters (128 bits) from the CSPRNG. */
export function newChannelToken(): string {
  return randomBytes(16).toString('hex')
}

/** An API key: a recognisable prefix and 256 bits of randomness. */
export function newApiKey(): string {
  return `sbk_${randomBytes(32).toString('base64url')}`
}

/** Secrets are looked up by their SHA-256, so no map or table is keyed by the secret itself. */
export function secretHash(secret: string): string {
  return hash('sha256', secret, 'hex')
}

/** The SHA-256 of `secret` as bytes, for constant-time comparison with a stored digest. */
export function secretDigest(secret: string): Buffer {
  return hash('sha256', secret, 'buffer')
}

/** Constant-time string equality (for lengths that may differ, too). */
export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  if (left.length !== right.length) {
    timingSafeEqual(left, left)
    return false
  }
  return timingSafeEqual(left, right)
}

/** Secrets shorter than this are masked whole: showing 10 of their characters would give too much away. */
const MIN_PARTLY_SHOWN = 24

/**
 * A secret as callers who may not see it get it (SPEC §12): the first 6 and the last 4
 * characters around `…` (`whsec_…abcd`), or `…` alone for a secret shorter than 24 characters;
 * an empty value stays empty (nothing is set, nothing to hide).
 */
export function maskSecret(secret: string): string {
  if (secret === '') return ''
  if (secret.length < MIN_PARTLY_SHOWN) return '…'
  return `${secret.slice(0, 6)}…${secret.slice(-4)}`
}

/** Whether `value` is what `maskSecret` makes of `secret` (a masked value sent back unchanged). */
export function isMaskOf(value: string, secret: string): boolean {
  return value.includes('…') && value === maskSecret(secret)
}
