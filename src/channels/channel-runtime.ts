import { maskSecret } from '../ids.ts'
import { DEFAULT_TIMEOUT_MS } from '../scripts/run-limits.ts'
import type { Channel } from './channel-schemas.ts'
import { concealChannel } from './channel-secrets.ts'

/** How long a channel waits for its webhook and message scripts: `opts.recv_timeout` s, 0 → 10 s. */
export function recvTimeoutMs(channel: Channel): number {
  return channel.opts.recv_timeout > 0 ? channel.opts.recv_timeout * 1000 : DEFAULT_TIMEOUT_MS
}

/** A channel as its scripts see it, and as JSON text, made once per version of the channel. */
const forScripts = new WeakMap<Channel, { readonly view: Omit<Channel, 'token_local'>; readonly json: string }>()

function scriptView(channel: Channel): { readonly view: Omit<Channel, 'token_local'>; readonly json: string } {
  let made = forScripts.get(channel)
  if (!made) {
    const { token_local: _secret, ...view } = concealChannel(channel)
    made = { view, json: JSON.stringify(view) }
    forScripts.set(channel, made)
  }
  return made
}

/**
 * The channel as its scripts see it: without `token_local`, the secret its senders present, and
 * with its write-only secrets masked (channel-secrets.ts).
 * Shared by every execution of this version of the channel (directories replace, never change, an entity).
 */
export function channelForScripts(channel: Channel): Omit<Channel, 'token_local'> {
  return scriptView(channel).view
}

/** channelForScripts as JSON text (a run's input, webhooks.ts). */
export function channelForScriptsJson(channel: Channel): string {
  return scriptView(channel).json
}

/**
 * The start parameters as an execution record keeps them: a channel passed as startparam 1 (a
 * message, a send, a push) has its `token_remote`s masked, since anyone who may read executions
 * reads records, and a channel's secrets are only for those who may change it (docs/iam.md).
 * A replay puts the channel as it is then in their place.
 */
export function startparamsForRecords(startparams: readonly unknown[], channel: Channel | null | undefined): readonly unknown[] {
  const [first, ...rest] = startparams
  if (!channel || !isChannelEntity(first, channel.id)) return startparams
  const shown = { ...(first as Record<string, unknown>) }
  for (const field of ['token_remote', 'token_remote2'] as const) {
    if (typeof shown[field] === 'string') shown[field] = maskSecret(shown[field])
  }
  return [shown, ...rest]
}

/** Whether `value` is the entity of channel `channelId` (startparam 1 of a channel's triggers). */
export function isChannelEntity(value: unknown, channelId: string): boolean {
  return value !== null && typeof value === 'object' && (value as { id?: unknown }).id === channelId
}
