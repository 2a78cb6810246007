import { randomUUID } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { Actor, WriteContext } from '../collections/collection.ts'
import type { CollectionService } from '../collections/collection-service.ts'
import { AppError } from '../errors.ts'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, IdParams, Timestamp } from '../http/shared-schemas.ts'
import type { Doc, Store } from '../store/store.ts'
import { Svcscript } from './svcscript-schemas.ts'

/** Versions kept per script: the oldest go past it. */
const MAX_VERSIONS = 100

const ScriptVersion = Type.Object(
  {
    version: Type.Integer({ minimum: 1, description: 'counts the saves of the script that changed its source, from 1' }),
    saved_at: Timestamp,
    actor: Type.Object(
      {
        kind: Type.String({ description: 'root, user, channel or system' }),
        id: Type.String(),
        key_id: Type.Optional(Type.String({ description: 'the API key the user saved with' })),
      },
      { additionalProperties: true },
    ),
    lang: Type.Union([Type.Literal('js'), Type.Literal('ts')]),
    source: Type.String(),
  },
  { additionalProperties: false, title: 'Script version' },
)

/**
 * Keeps the source of `doc` as its next version when it is new or its source or lang changed,
 * in the save's transaction, and sets `doc.version`. A script saved before versions existed
 * gets its stored source kept as version 1 first, so a rollback can reach it.
 */
export async function keepVersion(doc: Doc, before: Doc | undefined, context: WriteContext): Promise<Doc> {
  const previous = typeof before?.version === 'number' ? before.version : 0
  if (before && doc.source === before.source && doc.lang === before.lang) {
    return previous > 0 ? { ...doc, version: previous } : doc
  }
  const versions = context.tx.table('svcscript_versions')
  let next = previous + 1
  if (before && previous === 0) {
    await versions.insert(
      context.scope,
      versionDoc(before, 1, String((before.ext as { lwt?: string })?.lwt ?? context.now), null),
    )
    next = 2
  }
  await versions.insert(context.scope, versionDoc(doc, next, context.now, context.actor))
  if (next > MAX_VERSIONS) {
    const old = await versions.list(context.scope, {
      filter: [{ path: ['script_id'], value: doc.id }],
      order: [{ path: ['version'], descending: true }],
      offset: MAX_VERSIONS,
      limit: 1000,
    })
    await versions.removeMany(old.map((version) => version.id))
  }
  return { ...doc, version: next }
}

/** Removes every version of a deleted script. */
export async function forgetVersions(scriptId: string, tx: Store): Promise<void> {
  const versions = tx.table('svcscript_versions')
  const all = await versions.scan({ column: 'script_id', value: scriptId })
  await versions.removeMany(all.map(({ doc }) => doc.id))
}

function versionDoc(script: Doc, version: number, savedAt: string, actor: Actor | null): Doc {
  return {
    id: randomUUID(),
    script_id: script.id,
    version,
    saved_at: savedAt,
    actor: actor ?? { kind: 'system', id: 'before-versions' },
    lang: script.lang as string,
    source: script.source as string,
  }
}

function shown(doc: Doc): Record<string, unknown> {
  const { version, saved_at, actor, lang, source } = doc
  return { version, saved_at, actor, lang, source }
}

const RollbackBody = Type.Object(
  { version: Type.Integer({ minimum: 1, description: 'the version whose source becomes current again' }) },
  { additionalProperties: false },
)

/**
 * `GET …/svcscripts/<id>/versions` (newest first) and `POST …/svcscripts/<id>/rollback
 * {version}`: an older source made current again, through the collection, so the rollback is
 * itself a save: a new version, audited, and published to every worker.
 */
export function scriptVersionRoutes(app: FastifyInstance, scripts: CollectionService, store: Store): void {
  const list = async (scope: string, scriptId: string) =>
    store.table('svcscript_versions').list(scope, {
      filter: [{ path: ['script_id'], value: scriptId }],
      order: [{ path: ['version'], descending: true }],
      offset: 0,
      limit: MAX_VERSIONS,
    })
  app.get(
    '/rest/v1/service/svcscripts/:id/versions',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['svcscripts'],
        operationId: 'listScriptVersions',
        summary: `The saved versions of a script, newest first (the last ${MAX_VERSIONS})`,
        params: IdParams,
        response: { 200: Type.Array(ScriptVersion), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const { id } = request.params as { id: string }
      await scripts.get(auth, id)
      return (await list(auth.domain.id, id)).map(shown)
    },
  )
  app.post(
    '/rest/v1/service/svcscripts/:id/rollback',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['svcscripts'],
        operationId: 'rollbackScript',
        summary: 'Make the source of an earlier version current again (saved as a new version)',
        params: IdParams,
        body: RollbackBody,
        response: { 200: Svcscript, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const { id } = request.params as { id: string }
      const { version } = request.body as { version: number }
      await scripts.get(auth, id)
      const found = (await list(auth.domain.id, id)).find((doc) => doc.version === version)
      if (!found) throw new AppError('not_found', `script '${id}' has no version ${version}`)
      const { entity } = await scripts.update(auth, id, { source: found.source, lang: found.lang })
      return entity
    },
  )
}
