import { list, PATHS } from './client.ts'
import type { Channel } from './types.ts'

/** Channel codes by id, for lists that show channels by name. */
export async function channelNames(): Promise<Map<string, string>> {
  const { items } = await list<Channel>(PATHS.channels, { mask: 'id,code', limit: 1000, order: 'code' })
  return new Map(items.map((channel) => [channel.id, channel.code]))
}
