import type { CollectionDef, CollectionRules, WriteContext } from '../collections/collection.ts'
import { AppError } from '../errors.ts'
import type { Doc } from '../store/store.ts'
import { Svcscript, SvcscriptCreate } from './svcscript-schemas.ts'

/** The channel fields that name a script. */
export const SCRIPT_FIELDS = [
  'recv_svcscriptcode',
  'send_svcscriptcode',
  'recv_svcscriptcode_ws',
  'send_svcscriptcode_ws',
] as const

function complete(draft: Record<string, unknown>): Doc {
  const opts = (draft.opts ?? {}) as Record<string, unknown>
  return {
    id: draft.id as string,
    code: draft.code as string,
    name: (draft.name ?? '') as string,
    lang: (draft.lang ?? 'js') as string,
    source: (draft.source ?? '') as string,
    opts: { title: opts.title ?? '', comment: opts.comment ?? '', loglevel: opts.loglevel ?? 'info' },
    ext: draft.ext,
  }
}

/** The codes of the channels that name script `code`, for 1409 messages. */
async function channelsUsing(code: string, { tx, scope }: WriteContext): Promise<string[]> {
  const channels = tx.table('integration_points')
  const users: string[] = []
  for (const field of SCRIPT_FIELDS) {
    const found = await channels.list(scope, { filter: [{ path: [field], value: code }], order: [], offset: 0, limit: 10 })
    for (const channel of found) if (!users.includes(channel.code as string)) users.push(channel.code as string)
  }
  return users
}

const rules: CollectionRules = {
  async create(draft) {
    return complete(draft)
  },
  async update(merged, before, _patch, context) {
    const doc = complete(merged)
    if (doc.code !== before.code) {
      const users = await channelsUsing(before.code as string, context)
      if (users.length > 0) {
        throw new AppError(
          'conflict',
          `script '${String(before.code)}' is used by channels ${users.join(', ')}; it cannot be renamed`,
        )
      }
    }
    return doc
  },
  async remove(before, context) {
    const users = await channelsUsing(before.code as string, context)
    if (users.length > 0) {
      throw new AppError(
        'conflict',
        `script '${String(before.code)}' is used by channels ${users.join(', ')}; it cannot be deleted`,
      )
    }
  },
}

export const svcscriptsCollection: CollectionDef = {
  name: 'svcscripts',
  path: '/rest/v1/service/svcscripts',
  noun: 'script',
  master: false,
  entity: Svcscript,
  createBody: SvcscriptCreate,
  keys: ['code'],
  secrets: [],
  hidden: [],
  onceFields: [],
  defaultOrder: [{ path: ['code'], descending: false }],
  writable: true,
  rules,
}
