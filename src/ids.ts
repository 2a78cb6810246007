import { hash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(value: string): boolean {
  return UUID.test(value)
}

export function newId(): string {
  return randomUUID()
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
