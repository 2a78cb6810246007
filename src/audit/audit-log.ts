import type { Actor, Operation } from '../collections/collection.ts'
import { MASTER_DOMAIN } from '../domains/domain-schemas.ts'
import type { FileChange } from '../files/file-spaces.ts'
import { newTimeOrderedId } from '../ids.ts'
import type { Doc, Scope, Store } from '../store/store.ts'
import type { AuditEntry } from './audit-schemas.ts'
import type { FieldChange } from './changed-fields.ts'

export interface AuditLogOptions {
  /** Entries kept (the newest), over all domains. */
  readonly keepCount: number
  /** Entries older than this are deleted, ms. */
  readonly keepMs: number
  /** How often retention runs, ms. */
  /** undefined: another worker of the node does it (the housekeeper). */
  readonly retentionEveryMs: number | undefined
  readonly onError: (error: unknown) => void
}

/** A change to audit: who, what, which fields, and their values where they may be shown. */
export interface AuditedChange {
  readonly actor: Actor
  readonly collection: string
  readonly entityId: string
  readonly operation: Operation
  readonly fields: readonly string[]
  readonly changes?: readonly FieldChange[]
}

/**
 * The audit log (SPEC §2, §10): every change made through the admin API or by scripts, written
 * in the transaction that makes the change (a change is never without its entry, nor an entry
 * without its change). Changes to master collections (domains, channel types) are kept in the
 * `master` domain's log. Retention bounds the log by count and age.
 */
export class AuditLog {
  readonly #store: Store
  readonly #options: AuditLogOptions
  readonly #retention: NodeJS.Timeout | undefined

  constructor(store: Store, options: AuditLogOptions) {
    this.#store = store
    this.#options = options
    const every = options.retentionEveryMs
    this.#retention =
      every === undefined
        ? undefined
        : setInterval(() => {
            this.prune().catch(options.onError)
          }, every).unref()
  }

  /** Records `change` inside `tx`; `scope` null is a master collection's change. */
  async record(tx: Store, scope: Scope, change: AuditedChange): Promise<void> {
    const domainId = scope ?? (await tx.table('domains').findBy('name', MASTER_DOMAIN))?.doc.id
    if (domainId === undefined) return
    // The id sorts by time too: entries of the same millisecond keep their order (ts, then id).
    const id = newTimeOrderedId()
    const entry: AuditEntry = {
      id,
      ts: new Date(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toISOString(),
      actor: { ...change.actor },
      collection: change.collection,
      entity_id: change.entityId,
      operation: change.operation,
      fields: [...change.fields],
      ...(change.changes && { changes: [...change.changes] }),
    }
    await tx.table('audit').insert(domainId, entry as unknown as Doc)
  }

  /** Records a file written or deleted (files API, `files.*` in scripts): `entity_id` is the path. */
  recordFile(change: FileChange): Promise<void> {
    return this.record(this.#store, change.domainId, {
      actor: change.actor,
      collection: 'files',
      entityId: change.path,
      operation: change.operation,
      fields: change.operation === 'delete' ? [] : ['content'],
    })
  }

  async prune(): Promise<void> {
    const audit = this.#store.table('audit')
    await audit.removeBefore('ts', new Date(Date.now() - this.#options.keepMs).toISOString())
    // By id, which sorts by time and is unique: entries of one millisecond are not cut as a tie.
    await audit.keepNewest('id', this.#options.keepCount)
  }

  async close(): Promise<void> {
    clearInterval(this.#retention)
  }
}
