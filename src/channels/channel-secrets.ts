import type { FieldError } from '../errors.ts'
import { isMaskOf, maskSecret } from '../ids.ts'
import type { Channel } from './channel-schemas.ts'

/**
 * A channel's write-only secrets (`opts.verify.secrets`): no read shows them, no change notice,
 * event or script sees them; they are only used where they are checked. Shown masked
 * (`whsec_…abcd`), and a PATCH that sends the masked value back keeps the stored one.
 */
export const WRITE_ONLY_PATHS: readonly string[] = ['opts.verify.secrets']

/** The channel with its write-only secrets masked (itself when it has none). */
export function concealChannel<T extends Pick<Channel, 'opts'>>(channel: T): T {
  const verify = channel.opts.verify
  if (!verify) return channel
  return { ...channel, opts: { ...channel.opts, verify: { ...verify, secrets: verify.secrets.map(maskSecret) } } }
}

/**
 * `sent` with every masked value replaced by the stored secret it masks (the same position
 * first), or the problem when a masked value masks none of them.
 */
export function keptSecrets(
  sent: readonly string[],
  stored: readonly string[] | undefined,
  field: string,
): { readonly secrets: string[] } | { readonly problem: FieldError } {
  const secrets: string[] = []
  for (const [i, value] of sent.entries()) {
    if (!value.includes('…')) {
      secrets.push(value)
      continue
    }
    const same = stored?.[i]
    const kept = same !== undefined && isMaskOf(value, same) ? same : stored?.find((secret) => isMaskOf(value, secret))
    if (kept === undefined) {
      return {
        problem: {
          field: `${field}.${i}`,
          message: 'is masked: send the secret itself, or its masked value unchanged to keep it',
        },
      }
    }
    secrets.push(kept)
  }
  return { secrets }
}
