import type { Channel } from './channel-schemas.ts'

/** The wait for a script a channel runs when `opts.recv_timeout` is 0 (SPEC §5.4), ms. */
export const DEFAULT_RECV_TIMEOUT_MS = 10_000

/** How long a channel waits for its webhook and message scripts: `opts.recv_timeout` s, 0 → 10 s. */
export function recvTimeoutMs(channel: Channel): number {
  return channel.opts.recv_timeout > 0 ? channel.opts.recv_timeout * 1000 : DEFAULT_RECV_TIMEOUT_MS
}

/** The channel as its scripts see it: without `token_local`, the secret its senders present. */
export function channelForScripts(channel: Channel): Omit<Channel, 'token_local'> {
  const { token_local: _secret, ...rest } = channel
  return rest
}
