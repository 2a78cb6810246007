import { Type } from '@sinclair/typebox'
import type { CollectionDef, CollectionRules, WriteContext } from '../collections/collection.ts'
import { AppError } from '../errors.ts'
import type { Doc } from '../store/store.ts'
import type { ScriptLang, SourceProblem } from './runtime/script-source.ts'
import { forgetVersions, keepVersion } from './script-versions.ts'
import { Svcscript, SvcscriptCreate } from './svcscript-schemas.ts'

/** The channel fields that name a script. */
export const SCRIPT_FIELDS = [
  'recv_svcscriptcode',
  'send_svcscriptcode',
  'recv_svcscriptcode_ws',
  'send_svcscriptcode_ws',
] as const

/** Where a source fails to compile, or undefined (the runtime's check: nothing of it runs). */
export type SourceCheck = (lang: ScriptLang, source: string) => SourceProblem | undefined

function complete(draft: Record<string, unknown>, check: SourceCheck): Doc {
  const opts = (draft.opts ?? {}) as Record<string, unknown>
  const doc = {
    id: draft.id as string,
    code: draft.code as string,
    name: (draft.name ?? '') as string,
    lang: (draft.lang ?? 'js') as string,
    source: (draft.source ?? '') as string,
    opts: { title: opts.title ?? '', comment: opts.comment ?? '', loglevel: opts.loglevel ?? 'info' },
    ext: draft.ext,
  } satisfies Doc
  const problem = check(doc.lang as ScriptLang, doc.source)
  if (problem) {
    const where = `line ${problem.line}, column ${problem.column}`
    throw new AppError('bad_request', `source does not compile: ${where}: ${problem.message}`, [
      { field: 'source', message: `${where}: ${problem.message}` },
    ])
  }
  return doc
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

/** Service scripts (SPEC §4); a source that does not compile is refused with its line and column. */
export function svcscriptsCollection(check: SourceCheck): CollectionDef {
  const rules: CollectionRules = {
    async create(draft, context) {
      return keepVersion(complete(draft, check), undefined, context)
    },
    async update(merged, before, _patch, context) {
      const doc: Doc = await keepVersion(complete(merged, check), before, context)
      // A quarantine holds the version that caused it; a new version starts free (SPEC §13).
      const quarantined = merged.quarantined
      if (quarantined !== undefined && doc.source === before.source && doc.lang === before.lang) {
        ;(doc as Record<string, unknown>).quarantined = quarantined
      }
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
      await forgetVersions(before.id, context.tx)
    },
  }

  return {
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
    saveQuerystring: Type.Object(
      {
        strict: Type.Optional(
          Type.Union([Type.Literal('true'), Type.Literal('false')], {
            description:
              'true: a TypeScript source that does not type-check is refused (1400); otherwise it is saved and the answer lists the problems in `warnings`',
          }),
        ),
      },
      { additionalProperties: false },
    ),
    rules,
  }
}
