import type { FieldError } from '../errors.ts'
import type { VerifyOpts } from './channel-schemas.ts'

const HMAC_ONLY = ['header', 'prefix', 'algorithm', 'encoding'] as const
/** Schemes whose signatures cover a timestamp (the others have none to check). */
const TIMESTAMPED = new Set<VerifyOpts['scheme']>(['standard-webhooks', 'stripe', 'slack'])
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/

/** What is wrong with `opts.verify` beyond its schema (fields that go together). */
export function verifyProblems(verify: VerifyOpts | undefined): FieldError[] {
  if (!verify) return []
  const problems: FieldError[] = []
  const { scheme } = verify
  if (scheme === 'hmac') {
    if (verify.header === undefined) problems.push({ field: 'opts.verify.header', message: 'is required with scheme hmac' })
    else if (!HEADER_NAME.test(verify.header)) problems.push({ field: 'opts.verify.header', message: 'is not a header name' })
  } else {
    for (const field of HMAC_ONLY) {
      if (verify[field] !== undefined) problems.push({ field: `opts.verify.${field}`, message: 'applies to scheme hmac only' })
    }
  }
  if (verify.tolerance_s !== undefined && !TIMESTAMPED.has(scheme)) {
    problems.push({ field: 'opts.verify.tolerance_s', message: `does not apply: ${scheme} signatures carry no timestamp` })
  }
  if (scheme === 'standard-webhooks') {
    verify.secrets.forEach((secret, i) => {
      // A masked value sent back is checked against the stored one instead (channel-secrets.ts).
      if (secret.includes('…')) return
      const key = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret
      if (!BASE64.test(key) || Buffer.from(key, 'base64').length === 0) {
        problems.push({ field: `opts.verify.secrets.${i}`, message: 'must be whsec_ followed by the base64 of the key' })
      }
    })
  }
  return problems
}
