import type { FieldError } from '../errors.ts'
import { isMaskOf, maskSecret } from '../ids.ts'
import type { Channel } from './channel-schemas.ts'

/**
 * A channel's write-only secrets (`opts.verify.secrets`, `opts.deliver.secret`): no read shows them, no change notice,
 * event or script sees them; they are only used where they are checked. Shown masked
 * (`whsec_…abcd`), and a PATCH that sends the masked value back keeps the stored one.
 */
export const WRITE_ONLY_PATHS: readonly string[] = ['opts.verify.secrets', 'opts.deliver.secret', 'opts.deliver.previous_secret']

/** The channel with its write-only secrets masked (itself when it has none). */
export function concealChannel<T extends Pick<Channel, 'opts'>>(channel: T): T {
  const { verify, deliver } = channel.opts
  if (!verify && !deliver) return channel
  const opts = { ...channel.opts }
  if (verify) opts.verify = { ...verify, secrets: verify.secrets.map(maskSecret) }
  if (deliver) {
    opts.deliver = {
      ...deliver,
      ...(deliver.secret !== undefined && { secret: maskSecret(deliver.secret) }),
      ...(deliver.previous_secret !== undefined && { previous_secret: maskSecret(deliver.previous_secret) }),
    }
  }
  return { ...channel, opts }
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
