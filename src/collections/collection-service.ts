import type { AuditLog } from '../audit/audit-log.ts'
import { changedFields, changedValues } from '../audit/changed-fields.ts'
import { AppError } from '../errors.ts'
import { isMaskOf, maskSecret, newId } from '../ids.ts'
import { type Doc, DuplicateKeyError, type ListQuery, type Scope, type Store, WriteConflictError } from '../store/store.ts'
import type { ChangeFeed } from './change-feed.ts'
import { codePathsOf, normaliseCode, withNormalisedCodes } from './codes.ts'
import type { CallContext, CollectionDef, Operation, WriteContext } from './collection.ts'
import { isObject } from './field-paths.ts'
import { mergePatch, objectFieldsOf } from './patch.ts'

/**
 * An entity with its ETag (SPEC §2): `"<revision>"`, a strong entity tag that changes with every
 * write of the entity and never comes back.
 */
export interface Tagged {
  readonly entity: Doc
  readonly etag: string
}

/** `If-Match`: `*` (any current entity), or ETags one of which the entity must still have. */
export type IfMatch = '*' | readonly string[]

interface ChangeOptions {
  /** Default: none (the change applies to the entity as it is then). */
  readonly ifMatch?: IfMatch
}

/** SPEC §2 for one collection: the routes, the websocket `rest` capability and scripts all call this. */
export interface CollectionService {
  readonly def: CollectionDef
  list(context: CallContext, query: ListQuery): Promise<{ items: Doc[]; total: number }>
  get(context: CallContext, id: string): Promise<Doc>
  /** The entity with its ETag. */
  read(context: CallContext, id: string): Promise<Tagged>
  /**
   * The entity as clients see it, as JSON text, with its ETag: only for collections without
   * hidden fields, and callers for whom `revealsAll` holds.
   */
  getJson(context: CallContext, id: string): Promise<{ readonly json: string; readonly etag: string }>
  /** The new entity, with its `onceFields` (shown in the create answer only). */
  create(context: CallContext, body: Record<string, unknown>): Promise<Tagged>
  /**
   * Merges `patch` into the entity as it is when the write runs (never into an older read, so
   * concurrent PATCHes of different fields all keep theirs). 1412 if `ifMatch` does not hold.
   */
  update(context: CallContext, id: string, patch: Record<string, unknown>, options?: ChangeOptions): Promise<Tagged>
  /** The deleted entity with its last ETag. 1412 if `ifMatch` does not hold. */
  remove(context: CallContext, id: string, options?: ChangeOptions): Promise<Tagged>
  /** The id of the entity whose unique `key` equals `value`. */
  lookup(context: CallContext, key: string, value: string): Promise<string>
  /** The entity as `caller` sees it: hidden fields removed, guarded secrets masked unless it may see them. */
  view(doc: Doc, caller: CallContext): Record<string, unknown>
  /** Whether `caller` sees every entity as stored (no guarded secret to mask for it). */
  revealsAll(caller: CallContext): boolean
}

export interface CollectionServiceDeps {
  readonly store: Store
  readonly changes: ChangeFeed
  /** Every change (cascades too) is recorded here, in its transaction. */
  readonly audit: AuditLog
  /** RFC 3339 UTC time for `ext.ct`/`ext.lwt`. */
  readonly now?: () => string
}

/** Attempts of a write that met concurrent ones (WriteConflictError) before it answers 1409. */
const WRITE_ATTEMPTS = 4

const etagOf = (rev: string): string => `"${rev}"`

export function createCollectionService(def: CollectionDef, deps: CollectionServiceDeps): CollectionService {
  const { store, changes, audit } = deps
  const now = deps.now ?? (() => new Date().toISOString())
  const objectFields = objectFieldsOf(def.createBody)
  const guarded = def.guarded

  /** A guarded secret sent back as the caller got it, masked, keeps the stored one (SPEC §12). */
  function withoutMaskedSecrets(patch: Record<string, unknown>, before: Doc): Record<string, unknown> {
    if (!guarded) return patch
    let out = patch
    for (const field of guarded.fields) {
      const sent = patch[field]
      const stored = before[field]
      if (typeof sent === 'string' && typeof stored === 'string' && sent !== stored && isMaskOf(sent, stored)) {
        if (out === patch) out = { ...patch }
        delete out[field]
      }
    }
    return out
  }

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

  /** An entity the store does not hold (yet) that the collection shows (CollectionDef.missing). */
  const missing = async (scope: Scope, id: string) => (def.missing === undefined ? undefined : def.missing(scope, id))
  /** Its ETag: it has no revision; the stored entity that replaces it will have another. */
  const MISSING_ETAG = '"unstored"'

  /** 1412 unless `ifMatch` holds for revision `rev` (RFC 9110 §13.1.1: strong comparison). */
  function precondition(ifMatch: IfMatch | undefined, rev: string, id: string): void {
    if (ifMatch === undefined || ifMatch === '*' || ifMatch.includes(etagOf(rev))) return
    throw new AppError(
      'precondition_failed',
      `${def.noun} '${id}' has changed since ETag ${ifMatch.join(', ')} (it is now ${etagOf(rev)}); read it again and retry`,
    )
  }

  /**
   * The entity `id` locked against other writers until commit, and its revision. SPEC §2's
   * PATCH merge and the "still in use?" checks of a delete read it, decide, and write it back:
   * the lock keeps any other write of it out in between (PostgreSQL; SQLite runs one write
   * transaction at a time), and the write checks the revision besides, so a store that
   * failed to lock would answer a conflict rather than lose an update.
   */
  async function lockedRead(wc: WriteContext, id: string, ifMatch: IfMatch | undefined) {
    const found = await wc.tx.table(def.name).read(wc.scope, id, { lock: 'update' })
    if (!found) throw notFound(id)
    precondition(ifMatch, found.rev, id)
    return found
  }

  type Pending = { def: CollectionDef; operation: Operation; scope: Scope; entity: Doc; before: Doc | undefined }
  type Written = { entity: Doc; before?: Doc; rev: string }

  /**
   * Runs `run` in a transaction, again from the start when it met a concurrent write (a stale
   * revision, a deadlock): a write answers 1409 only after WRITE_ATTEMPTS such meetings.
   */
  async function write(context: CallContext, operation: Operation, run: (wc: WriteContext) => Promise<Written>): Promise<Tagged> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await writeOnce(context, operation, run)
      } catch (error) {
        if (!(error instanceof WriteConflictError)) throw error
        if (attempt === WRITE_ATTEMPTS) {
          throw new AppError(
            'conflict',
            `this change of ${def.noun}s met other changes at the same moment ${attempt} times in a row; try again`,
            undefined,
            { cause: error },
          )
        }
      }
    }
  }

  /**
   * Runs `run` in a transaction with the audit entries of its change and of the cascades it
   * announced, then publishes them all. An entity of a domain is written only while its domain
   * exists: the domain's row is locked `share` so that a concurrent delete of the domain waits
   * (and then finds this entity in it) or goes first (and this write answers 1404).
   */
  async function writeOnce(
    context: CallContext,
    operation: Operation,
    run: (wc: WriteContext) => Promise<Written>,
  ): Promise<Tagged> {
    const pending: Pending[] = []
    const cascaded: WriteContext['cascaded'] = (other, op, scope, entity, before) => {
      pending.push({ def: other, operation: op, scope, entity, before })
    }
    const written = await store.transaction(async (tx) => {
      if (context.scope !== null && !(await tx.table('domains').read(null, context.scope, { lock: 'share' }))) {
        throw new AppError('not_found', `domain '${context.scope}' does not exist`)
      }
      const written = await run({ ...context, tx, now: now(), cascaded })
      pending.unshift({ def, operation, scope: context.scope, entity: withoutOnceFields(written.entity), before: written.before })
      for (const change of pending) {
        const fields = change.operation === 'delete' ? [] : changedFields(change.before, change.entity, unaudited(change.def))
        const secret = [...change.def.secrets, ...change.def.hidden, ...(change.def.guarded?.fields ?? [])]
        await audit.record(tx, change.scope, {
          actor: context.actor,
          collection: change.def.name,
          entityId: change.entity.id,
          operation: change.operation,
          fields,
          changes: changedValues(change.before, change.entity, fields, secret),
        })
      }
      return written
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
          change.def.concealed?.conceal,
        ),
      )
    }
    // Answered once every node's copies are current: the next request sees the change anywhere.
    await Promise.all(confirmed)
    return { entity: written.entity, etag: etagOf(written.rev) }
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
      const [items, total] = await Promise.all([
        table.list(context.scope, query),
        table.count(context.scope, query.filter, query.search),
      ])
      return { items, total }
    },
    async get(context, id) {
      return (
        (await store.table(def.name).get(context.scope, id)) ?? (await missing(context.scope, id)) ?? Promise.reject(notFound(id))
      )
    },
    async read(context, id) {
      const found = await store.table(def.name).read(context.scope, id)
      if (found) return { entity: found.doc, etag: etagOf(found.rev) }
      const shown = await missing(context.scope, id)
      if (!shown) throw notFound(id)
      return { entity: shown, etag: MISSING_ETAG }
    },
    async getJson(context, id) {
      if (def.hidden.length > 0) throw new Error(`${def.name} has hidden fields: use read()`)
      const found = await store.table(def.name).getJson(context.scope, id)
      if (found) return { json: found.json, etag: etagOf(found.rev) }
      const shown = await missing(context.scope, id)
      if (!shown) throw notFound(id)
      return { json: JSON.stringify(shown), etag: MISSING_ETAG }
    },
    async create(context, rawBody) {
      const body = withNormalisedCodes(rawBody, codePaths)
      return write(context, 'create', async (wc) => {
        const draft = { ...body, id: typeof body.id === 'string' ? body.id : newId(), ext: ext(body.ext, wc.now, wc.now) }
        const doc = await def.rules.create(draft, wc)
        try {
          return { entity: doc, rev: await wc.tx.table(def.name).insert(context.scope, withoutOnceFields(doc)) }
        } catch (error) {
          throw conflict(error, doc)
        }
      })
    },
    async update(context, id, patch, options = {}) {
      const { id: patchId, ...sent } = withNormalisedCodes(patch, codePaths)
      if (patchId !== undefined && patchId !== id) {
        throw new AppError('bad_request', 'id cannot be changed', [{ field: 'id', message: 'cannot be changed' }])
      }
      return write(context, 'update', async (wc) => {
        const { doc: before, rev } = await lockedRead(wc, id, options.ifMatch)
        const changesOnly = withoutMaskedSecrets(sent, before)
        const merged = mergePatch(before, changesOnly, objectFields)
        const beforeExt = before.ext as { ct: string }
        merged.id = id
        merged.ext = ext(merged.ext, beforeExt.ct, wc.now)
        const doc = await def.rules.update(merged, before, changesOnly, wc)
        try {
          return { entity: doc, before, rev: await wc.tx.table(def.name).update(context.scope, doc, { rev }) }
        } catch (error) {
          throw conflict(error, doc)
        }
      })
    },
    async remove(context, id, options = {}) {
      return write(context, 'delete', async (wc) => {
        const { doc: before, rev } = await lockedRead(wc, id, options.ifMatch)
        await def.rules.remove?.(before, wc)
        await wc.tx.table(def.name).remove(context.scope, id, { rev })
        return { entity: before, before, rev }
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
    view(stored, caller) {
      const doc = def.concealed ? def.concealed.conceal(stored) : stored
      const masked = guarded !== undefined && !guarded.mayReveal(caller, doc)
      if (def.hidden.length === 0 && !masked) return doc
      const out: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(doc)) {
        if (def.hidden.includes(key)) continue
        out[key] = masked && typeof value === 'string' && guarded.fields.includes(key) ? maskSecret(value) : value
      }
      return out
    },
    revealsAll(caller) {
      return def.concealed === undefined && (guarded === undefined || caller.rights.all)
    },
  }
}
