import { randomBytes } from 'node:crypto'
import type { FieldError } from '../errors.ts'
import { isMaskOf } from '../ids.ts'
import type { DeliverOpts } from './channel-schemas.ts'

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/** A new delivery secret: 32 random bytes in the Standard Webhooks form. */
function newDeliverySecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

/**
 * `opts.deliver` as stored: the secret given (a masked one sent back keeps the stored one),
 * kept, or generated; `previous_secret` and `rotated_at` are the server's — set when the secret
 * changes, so both sign during the rotation — and whatever the client sent for them is ignored.
 */
export function deliverSettings(
  sent: DeliverOpts | undefined,
  before: DeliverOpts | undefined,
  now: string,
): { readonly deliver: DeliverOpts | undefined; readonly problems: FieldError[] } {
  if (!sent) return { deliver: undefined, problems: [] }
  const { previous_secret: _previous, rotated_at: _rotated, secret: given, ...rest } = sent
  let secret = given ?? before?.secret ?? newDeliverySecret()
  if (secret.includes('…')) {
    if (before?.secret === undefined || !isMaskOf(secret, before.secret)) {
      return {
        deliver: undefined,
        problems: [
          {
            field: 'opts.deliver.secret',
            message: 'is masked: send the secret itself, or its masked value unchanged to keep it',
          },
        ],
      }
    }
    secret = before.secret
  }
  const key = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : ''
  if (!BASE64.test(key) || Buffer.from(key, 'base64').length < 16) {
    return {
      deliver: undefined,
      problems: [{ field: 'opts.deliver.secret', message: 'must be whsec_ followed by the base64 of at least 16 bytes' }],
    }
  }
  const rotated = before?.secret !== undefined && before.secret !== secret
  const previous = rotated
    ? { previous_secret: before.secret as string, rotated_at: now }
    : before?.previous_secret !== undefined && before.rotated_at !== undefined
      ? { previous_secret: before.previous_secret, rotated_at: before.rotated_at }
      : {}
  return { deliver: { ...rest, secret, ...previous }, problems: [] }
}
