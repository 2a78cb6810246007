import type { AuditLog } from '../audit/audit-log.ts'
import { changedFields } from '../audit/changed-fields.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { type Doc, DuplicateKeyError, type ListQuery, type Scope, type Store } from '../store/store.ts'
import type { ChangeFeed } from './change-feed.ts'
import { codePathsOf, normaliseCode, withNormalisedCodes } from './codes.ts'
import type { CallContext, CollectionDef, Operation, WriteContext } from './collection.ts'
import { isObject } from './field-paths.ts'
import { mergePatch, objectFieldsOf } from './patch.ts'

/** SPEC §2 for one collection: the routes, the websocket `rest` capability and scripts all call this. */
export interface CollectionService {
  readonly def: CollectionDef
  list(context: CallContext, query: ListQuery): Promise<{ items: Doc[]; total: number }>
  get(context: CallContext, id: string): Promise<Doc>
  /** The entity as clients see it, as JSON text; only for collections without hidden fields. */
  getJson(context: CallContext, id: string): Promise<string>
  /** The new entity, with its `onceFields` (shown in the create answer only). */
  create(context: CallContext, body: Record<string, unknown>): Promise<Doc>
  update(context: CallContext, id: string, patch: Record<string, unknown>): Promise<Doc>
  remove(context: CallContext, id: string): Promise<Doc>
  /** The id of the entity whose unique `key` equals `value`. */
  lookup(context: CallContext, key: string, value: string): Promise<string>
  /** The entity as clients see it (hidden fields removed). */
  view(doc: Doc): Record<string, unknown>
}

export interface CollectionServiceDeps {
  readonly store: Store
  readonly changes: ChangeFeed
  /** Every change (cascades too) is recorded here, in its transaction. */
  readonly audit: AuditLog
  /** RFC 3339 UTC time for `ext.ct`/`ext.lwt`. */
  readonly now?: () => string
}

export function createCollectionService(def: CollectionDef, deps: CollectionServiceDeps): CollectionService {
  const { store, changes, audit } = deps
  const now = deps.now ?? (() => new Date().toISOString())
  const objectFields = objectFieldsOf(def.createBody)
  const codePaths = codePathsOf(def.createBody)
  const codeKeys = new Set(codePaths.filter((path) => path.length === 1).map(([key]) => key as string))
  /** Fields an audit entry never names: the server's own, and those never shown. */
  const unaudited = (of: CollectionDef) => new Set(['id', 'ext.ct', 'ext.lwt', ...of.hidden, ...of.onceFields])

  const notFound = (id: string) => new AppError('not_found', `${def.noun} '${id}' does not exist`)

  function conflict(error: unknown, doc: Doc): unknown {
    if (!(error instanceof DuplicateKeyError)) return error
    const { column } = error
    const message = def.secrets.includes(column)
      ? `${column} is already in use`
      : `${def.noun} with ${column} '${String(doc[column])}' already exists`
    return new AppError('conflict', message, [{ field: column, message: 'already exists' }], { cause: error })
  }

  type Pending = { def: CollectionDef; operation: Operation; scope: Scope; entity: Doc; before: Doc | undefined }
  type Written = { entity: Doc; before?: Doc }

  /**
   * Runs `write` in a transaction with the audit entries of its change and of the cascades it
   * announced, then publishes them all.
   */
  async function write(context: CallContext, operation: Operation, run: (wc: WriteContext) => Promise<Written>): Promise<Doc> {
    const pending: Pending[] = []
    const cascaded: WriteContext['cascaded'] = (other, op, scope, entity, before) => {
      pending.push({ def: other, operation: op, scope, entity, before })
    }
    const entity = await store.transaction(async (tx) => {
      const written = await run({ ...context, tx, now: now(), cascaded })
      pending.unshift({ def, operation, scope: context.scope, entity: withoutOnceFields(written.entity), before: written.before })
      for (const change of pending) {
        await audit.record(tx, change.scope, {
          actor: context.actor,
          collection: change.def.name,
          entityId: change.entity.id,
          operation: change.operation,
          fields: change.operation === 'delete' ? [] : changedFields(change.before, change.entity, unaudited(change.def)),
        })
      }
      return written.entity
    })
    const confirmed: Promise<void>[] = []
    for (const change of pending) {
      confirmed.push(
        changes.committed(
          {
            collection: change.def.name,
            operation: change.operation,
            id: change.entity.id,
            scope: change.scope,
            entity: change.entity,
          },
          change.def.secrets,
          change.def.hidden,
        ),
      )
    }
    // Answered once every node's copies are current: the next request sees the change anywhere.
    await Promise.all(confirmed)
    return entity
  }

  function withoutOnceFields(doc: Doc): Doc {
    if (def.onceFields.length === 0) return doc
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(doc)) if (!def.onceFields.includes(key)) out[key] = value
    return out as Doc
  }

  /** `ext` with the server's times first and the client's other keys after them. */
  function ext(client: unknown, ct: string, lwt: string): Record<string, unknown> {
    const out: Record<string, unknown> = { ct, lwt }
    if (isObject(client)) {
      for (const [key, value] of Object.entries(client)) if (key !== 'ct' && key !== 'lwt') out[key] = value
    }
    return out
  }

  return {
    def,
    async list(context, query) {
      const table = store.table(def.name)
      const [items, total] = await Promise.all([table.list(context.scope, query), table.count(context.scope, query.filter)])
      return { items, total }
    },
    async get(context, id) {
      return (await store.table(def.name).get(context.scope, id)) ?? Promise.reject(notFound(id))
    },
    async getJson(context, id) {
      if (def.hidden.length > 0) throw new Error(`${def.name} has hidden fields: use get()`)
      return (await store.table(def.name).getJson(context.scope, id)) ?? Promise.reject(notFound(id))
    },
    async create(context, rawBody) {
      const body = withNormalisedCodes(rawBody, codePaths)
      return write(context, 'create', async (wc) => {
        const draft = { ...body, id: typeof body.id === 'string' ? body.id : newId(), ext: ext(body.ext, wc.now, wc.now) }
        const doc = await def.rules.create(draft, wc)
        try {
          await wc.tx.table(def.name).insert(context.scope, withoutOnceFields(doc))
        } catch (error) {
          throw conflict(error, doc)
        }
        return { entity: doc }
      })
    },
    async update(context, id, patch) {
      const { id: patchId, ...changesOnly } = withNormalisedCodes(patch, codePaths)
      if (patchId !== undefined && patchId !== id) {
        throw new AppError('bad_request', 'id cannot be changed', [{ field: 'id', message: 'cannot be changed' }])
      }
      return write(context, 'update', async (wc) => {
        const table = wc.tx.table(def.name)
        const before = await table.get(context.scope, id)
        if (!before) throw notFound(id)
        const merged = mergePatch(before, changesOnly, objectFields)
        const beforeExt = before.ext as { ct: string }
        merged.id = id
        merged.ext = ext(merged.ext, beforeExt.ct, wc.now)
        const doc = await def.rules.update(merged, before, changesOnly, wc)
        try {
          await table.update(context.scope, doc)
        } catch (error) {
          throw conflict(error, doc)
        }
        return { entity: doc, before }
      })
    },
    async remove(context, id) {
      return write(context, 'delete', async (wc) => {
        const table = wc.tx.table(def.name)
        const before = await table.get(context.scope, id)
        if (!before) throw notFound(id)
        await def.rules.remove?.(before, wc)
        await table.remove(context.scope, id)
        return { entity: before, before }
      })
    },
    async lookup(context, key, rawValue) {
      const value = codeKeys.has(key) ? normaliseCode(rawValue) : rawValue
      const found = await store.table(def.name).findBy(key, value, context.scope)
      if (!found) {
        const shown = def.secrets.includes(key) ? 'that value' : `'${value}'`
        throw new AppError('not_found', `no ${def.noun} with ${key} ${shown}`)
      }
      return found.doc.id
    },
    view(doc) {
      if (def.hidden.length === 0) return doc
      const out: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(doc)) if (!def.hidden.includes(key)) out[key] = value
      return out
    },
  }
}
