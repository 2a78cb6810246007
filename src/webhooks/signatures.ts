import { createHmac, timingSafeEqual } from 'node:crypto'
import type { VerifyOpts } from '../channels/channel-schemas.ts'

/** Why a webhook's signature was refused: the `reason` label of the refusals metric. */
export type SignatureRefusal = 'missing' | 'mismatch' | 'timestamp'

/** What a verified webhook's scripts see as `request.verified`. */
export interface Verified {
  readonly scheme: VerifyOpts['scheme']
  /** The sender's message id (standard-webhooks' `webhook-id`). */
  readonly id?: string
  /** The signed timestamp, seconds since 1970 (the schemes that sign one). */
  readonly timestamp?: number
}

export type Verification =
  | { readonly ok: true; readonly verified: Verified }
  | { readonly ok: false; readonly reason: SignatureRefusal; readonly message: string }

type Headers = Readonly<Record<string, string | string[] | undefined>>

const DEFAULT_TOLERANCE_S = 300

/** The HMAC keys of a setting, decoded once per version of the channel (directories replace, never change, an entity). */
const keysOf = new WeakMap<VerifyOpts, readonly Buffer[]>()

function keys(verify: VerifyOpts): readonly Buffer[] {
  let made = keysOf.get(verify)
  if (!made) {
    made = verify.secrets.map((secret) =>
      verify.scheme === 'standard-webhooks'
        ? Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64')
        : Buffer.from(secret, 'utf8'),
    )
    keysOf.set(verify, made)
  }
  return made
}

/**
 * Checks a webhook's signature over its raw bytes by `verify`'s scheme (docs/webhooks.md): every
 * signature the request carries against every secret, each comparison in constant time, then the
 * signed timestamp against `tolerance_s`. `nowS`: the time now, in seconds.
 */
export function verifySignature(verify: VerifyOpts, headers: Headers, body: Uint8Array, nowS: number): Verification {
  switch (verify.scheme) {
    case 'standard-webhooks': {
      const id = one(headers['webhook-id'])
      const timestamp = one(headers['webhook-timestamp'])
      const signatures = one(headers['webhook-signature'])
      if (id === undefined || timestamp === undefined || signatures === undefined) {
        return missing('webhook-id, webhook-timestamp and webhook-signature')
      }
      const given = signatures
        .split(' ')
        .filter((part) => part.startsWith('v1,'))
        .map((part) => Buffer.from(part.slice(3), 'base64'))
      return checked(verify, given, `${id}.${timestamp}.`, body, nowS, timestamp, { scheme: verify.scheme, id })
    }
    case 'stripe': {
      const header = one(headers['stripe-signature'])
      if (header === undefined) return missing('Stripe-Signature')
      let timestamp: string | undefined
      const given: Buffer[] = []
      for (const pair of header.split(',')) {
        const [name, value] = pair.trim().split('=', 2)
        if (name === 't') timestamp = value
        else if (name === 'v1' && value !== undefined) given.push(Buffer.from(value, 'hex'))
      }
      if (timestamp === undefined || given.length === 0) return missing('Stripe-Signature with t= and v1=')
      return checked(verify, given, `${timestamp}.`, body, nowS, timestamp, { scheme: verify.scheme })
    }
    case 'github': {
      const header = one(headers['x-hub-signature-256'])
      if (header === undefined || !header.startsWith('sha256=')) return missing('X-Hub-Signature-256 (sha256=…)')
      return checked(verify, [Buffer.from(header.slice(7), 'hex')], '', body, nowS, undefined, { scheme: verify.scheme })
    }
    case 'slack': {
      const header = one(headers['x-slack-signature'])
      const timestamp = one(headers['x-slack-request-timestamp'])
      if (header === undefined || !header.startsWith('v0=') || timestamp === undefined) {
        return missing('X-Slack-Signature (v0=…) and X-Slack-Request-Timestamp')
      }
      const given = [Buffer.from(header.slice(3), 'hex')]
      return checked(verify, given, `v0:${timestamp}:`, body, nowS, timestamp, { scheme: verify.scheme })
    }
    case 'hmac': {
      const name = verify.header ?? ''
      const header = one(headers[name.toLowerCase()])
      const prefix = verify.prefix ?? ''
      if (header === undefined || !header.startsWith(prefix)) return missing(`${name}${prefix === '' ? '' : ` (${prefix}…)`}`)
      const encoding = verify.encoding ?? 'hex'
      const given = [Buffer.from(header.slice(prefix.length), encoding)]
      return checked(verify, given, '', body, nowS, undefined, { scheme: verify.scheme })
    }
  }
}

function checked(
  verify: VerifyOpts,
  given: readonly Buffer[],
  signedPrefix: string,
  body: Uint8Array,
  nowS: number,
  timestamp: string | undefined,
  verified: Verified,
): Verification {
  const algorithm = verify.scheme === 'hmac' ? (verify.algorithm ?? 'sha256') : 'sha256'
  let matched = false
  for (const key of keys(verify)) {
    const expected = createHmac(algorithm, key).update(signedPrefix).update(body).digest()
    // Every pair is compared (no early exit); lengths differ only for a malformed signature.
    for (const signature of given) {
      if (signature.length === expected.length && timingSafeEqual(signature, expected)) matched = true
    }
  }
  if (!matched) return { ok: false, reason: 'mismatch', message: 'signature does not match' }
  if (timestamp === undefined) return { ok: true, verified }
  const seconds = /^[0-9]{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN
  const tolerance = verify.tolerance_s ?? DEFAULT_TOLERANCE_S
  if (!(Math.abs(nowS - seconds) <= tolerance)) {
    return { ok: false, reason: 'timestamp', message: `signature timestamp outside tolerance (${tolerance} s)` }
  }
  return { ok: true, verified: { ...verified, timestamp: seconds } }
}

function missing(what: string): Verification {
  return { ok: false, reason: 'missing', message: `signature missing: the request has no ${what} header` }
}

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
