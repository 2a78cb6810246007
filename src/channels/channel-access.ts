import { AppError } from '../errors.ts'
import { type IpRanges, parseIpRanges } from '../net/ip-ranges.ts'
import type { ChannelDirectory, ChannelEntry } from './channel-directory.ts'
import type { Channel } from './channel-schemas.ts'

/**
 * Who may open a channel (SPEC §5.1, §6.1): the holder of its token (looked up in memory,
 * compared in constant time), from an address its `ipmask` allows. Webhooks and websockets
 * both pass here.
 */
export class ChannelAccess {
  readonly #channels: ChannelDirectory
  /** Parsed `ipmask` per channel version (the entity object changes when the channel does). */
  readonly #masks = new WeakMap<Channel, IpRanges>()

  constructor(channels: ChannelDirectory) {
    this.#channels = channels
  }

  /**
   * The channel `token` opens for a sender at `ip`; throws 1401, 1404 or 1403. `usage` names the
   * other place the token may be given (`/exec/<token>`), or is '' when there is none.
   */
  open(token: string | undefined, ip: string, usage: string): ChannelEntry {
    if (token === undefined || token === '') {
      const where = usage === '' ? '' : ` or ${usage}`
      throw new AppError('unauthorized', `a channel token is needed: Authorization: Bearer <token>${where}`)
    }
    const entry = this.#channels.byToken(token)
    if (!entry) throw new AppError('not_found', 'no channel has this token')
    const { channel } = entry
    if (channel.ipmask.length > 0) {
      let mask = this.#masks.get(channel)
      if (!mask) {
        mask = parseIpRanges(channel.ipmask)
        this.#masks.set(channel, mask)
      }
      if (!mask.has(ip)) throw new AppError('forbidden', `the sender address ${ip} is not allowed by the channel's ipmask`)
    }
    return entry
  }
}
