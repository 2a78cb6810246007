import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import { AppError, invalidField } from '../errors.ts'
import type { Doc } from '../store/store.ts'
import { BUILT_IN_TYPES, type Channel, ChannelType, ChannelTypeCreate, urlProblem } from './channel-schemas.ts'

function complete(draft: Record<string, unknown>): ChannelType {
  const text = (field: string) => (draft[field] as string | undefined) ?? ''
  return {
    id: draft.id as string,
    type: draft.type as string,
    recv_svcscriptcode: text('recv_svcscriptcode'),
    recv_svcscriptcode_ws: text('recv_svcscriptcode_ws'),
    send_svcscriptcode: text('send_svcscriptcode'),
    send_svcscriptcode_ws: text('send_svcscriptcode_ws'),
    url: text('url'),
    issync: (draft.issync as boolean | undefined) ?? false,
    recv_timeout: (draft.recv_timeout as number | undefined) ?? 0,
    relative_urls_only: (draft.relative_urls_only as boolean | undefined) ?? false,
    ext: draft.ext as ChannelType['ext'],
  }
}

function checked(channelType: ChannelType): Doc {
  if ((BUILT_IN_TYPES as readonly string[]).includes(channelType.type)) {
    throw invalidField('type', `'${channelType.type}' is a built-in type`)
  }
  const badUrl = urlProblem(channelType.url)
  if (badUrl) throw invalidField('url', badUrl)
  return channelType as unknown as Doc
}

/** The channel values a type fixes (SPEC §3.1), applied to `channel`. */
function applyType(channel: Channel, channelType: ChannelType, now: string): Channel {
  return {
    ...channel,
    ext: { ...channel.ext, lwt: now },
    recv_svcscriptcode: channelType.recv_svcscriptcode,
    send_svcscriptcode: channelType.send_svcscriptcode,
    recv_svcscriptcode_ws: channelType.recv_svcscriptcode_ws,
    send_svcscriptcode_ws: channelType.send_svcscriptcode_ws,
    url: channelType.url,
    opts: { ...channel.opts, issync: channelType.issync, recv_timeout: channelType.recv_timeout },
  }
}

/**
 * Solution-defined channel types, global to the installation. Changing a type rewrites the
 * fixed fields of every channel of that type, in every domain, in the same transaction.
 */
export function channelTypesCollection(channels: CollectionDef): CollectionDef {
  const rules: CollectionRules = {
    async create(draft) {
      return checked(complete(draft))
    },
    async update(merged, before, _patch, { tx, now, cascaded }) {
      const channelType = complete(merged)
      if (channelType.type !== before.type) {
        const inUse = await tx.table('integration_points').scan({ column: 'type', value: before.type as string })
        if (inUse.length > 0) {
          throw new AppError(
            'conflict',
            `channel type '${String(before.type)}' is used by ${inUse.length} channel(s); it cannot be renamed`,
          )
        }
      }
      const doc = checked(channelType)
      const table = tx.table('integration_points')
      for (const {
        scope,
        doc: { id },
      } of await table.scan({ column: 'type', value: channelType.type })) {
        // Each channel as it is now, locked: a PATCH of it that committed since the scan is kept.
        // (A channel of this type cannot be created or take this type meanwhile: that locks
        // this type's row `share` while this update holds it.)
        const current = await table.read(scope, id, { lock: 'update' })
        if (current?.doc.type !== channelType.type) continue
        const channel = current.doc
        const updated = applyType(channel as unknown as Channel, channelType, now) as unknown as Doc
        await table.update(scope, updated, { rev: current.rev })
        cascaded(channels, 'update', scope, updated, channel)
      }
      return doc
    },
    async remove(before, { tx }) {
      const inUse = await tx.table('integration_points').scan({ column: 'type', value: before.type as string })
      if (inUse.length > 0) {
        throw new AppError(
          'conflict',
          `channel type '${String(before.type)}' is used by ${inUse.length} channel(s); it cannot be deleted`,
        )
      }
    },
  }

  return {
    name: 'channel_types',
    path: '/rest/v1/master/channel_types',
    noun: 'channel type',
    master: true,
    entity: ChannelType,
    createBody: ChannelTypeCreate,
    keys: ['type'],
    secrets: [],
    hidden: [],
    onceFields: [],
    defaultOrder: [{ path: ['type'], descending: false }],
    writable: true,
    rules,
  }
}
