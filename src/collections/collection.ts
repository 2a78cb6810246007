import type { TObject } from '@sinclair/typebox'
import type { Rights } from '../iam/permissions.ts'
import type { Doc, FieldOrder, Scope, Store, TableName } from '../store/store.ts'

/**
 * Who made a change: the root key (`id` "root"), a user (`id` the user's, `key_id` the API key
 * used), a channel (`id` the channel's: its token through the websocket `rest` capability or
 * the files API, or its scripts), or the server itself (`id` what acted: `containment` for a
 * script quarantine, SPEC §13). A channel whose token acts with its `opts.userid` user's rights
 * (the `rest` capability, `api.request`) is that user, `via` the channel.
 */
export interface Actor {
  readonly kind: 'root' | 'user' | 'channel' | 'system'
  readonly id: string
  readonly key_id?: string
  /** The channel through which a user acted (its token's rights: the channel's roles and the user's). */
  readonly via?: { readonly kind: 'channel'; readonly id: string }
}

/** The domain and actor a collection call runs for. `scope` is null for the master collections. */
export interface CallContext {
  readonly scope: Scope
  readonly actor: Actor
  /**
   * What the caller may do in the domain: a write may grant rights (roles, users, keys, tokens)
   * only within these (iam/grants.ts), and guarded secrets are shown by them. The server's own
   * writes (first start, quarantine) hold ALL_RIGHTS.
   */
  readonly rights: Rights
}

export interface WriteContext extends CallContext {
  /** The transaction the write runs in; reads for checks go through it too. */
  readonly tx: Store
  /** The time of this write (RFC 3339 UTC), for `ext.lwt` of cascaded writes. */
  readonly now: string
  /**
   * Announces a write the rules made to another entity in the same transaction (a cascade):
   * it is audited with the main change and published after the commit. `before` is the entity
   * as it was (updates), for the audit entry's fields.
   */
  cascaded(def: CollectionDef, operation: Operation, scope: Scope, entity: Doc, before?: Doc): void
}

export type Operation = 'create' | 'update' | 'delete'

interface GuardedSecrets {
  readonly fields: readonly string[]
  /** Whether `caller` may see `doc`'s guarded fields in clear. */
  mayReveal(caller: CallContext, doc: Doc): boolean
}

/**
 * Collection-specific behaviour: completing and checking entities. The generic layer
 * (collection-service.ts) does everything of SPEC §2 around it: ids, `ext.ct`/`ext.lwt`, PATCH
 * merging, uniqueness (1409), not-found, change notices and views.
 */
export interface CollectionRules {
  /**
   * A new entity from a validated create body that already carries `id` and `ext`. Fills
   * defaults and generated values, checks cross-field rules and references; throws AppError.
   */
  create(draft: Record<string, unknown>, context: WriteContext): Promise<Doc>
  /**
   * The updated entity from `merged` (the stored entity with the PATCH body merged in: a key
   * the body set to null is absent). `patch` is the body as sent.
   */
  update(merged: Record<string, unknown>, before: Doc, patch: Record<string, unknown>, context: WriteContext): Promise<Doc>
  /** Refuses a delete (e.g. 1409 while something refers to the entity). */
  remove?(before: Doc, context: WriteContext): Promise<void>
}

export interface CollectionDef {
  /** Collection name: the last path segment, the table name and `collection` in events. */
  readonly name: TableName
  /** Base path of its routes, e.g. `/rest/v1/service/integration_points`. */
  readonly path: string
  /** Singular noun for messages: "integration point 'x' does not exist". */
  readonly noun: string
  /** Master collections are global and need master rights; the others live in a domain. */
  readonly master: boolean
  /** The entity as the API shows it; also the source of valid filter/mask/order paths. */
  readonly entity: TObject
  /** The create body (fields the client may send). PATCH bodies are derived from it. */
  readonly createBody: TObject
  /** Unique fields besides `id`: they are the lookup keys and name the field in 1409s. */
  readonly keys: readonly string[]
  /** Fields removed from change notices and events (tokens and the like). */
  readonly secrets: readonly string[]
  /** Fields stored with the entity but never shown (key hashes). */
  readonly hidden: readonly string[]
  /**
   * Secrets shown in clear only to the callers `mayReveal` allows; the others get them masked
   * (`maskSecret`: `abcdef…wxyz`). A PATCH that sends a masked value back unchanged keeps the
   * stored secret.
   */
  readonly guarded?: GuardedSecrets
  /**
   * Write-only secrets inside the entity (a channel's `opts.verify.secrets`): every view, change
   * notice and event shows them masked by `conceal`, and `paths` (dotted, and what is below
   * them) cannot be filtered or sorted on. Keeping a masked value sent back is the rules' job.
   */
  readonly concealed?: {
    readonly paths: readonly string[]
    conceal(doc: Doc): Doc
  }
  /** Fields that `rules.create` returns but that are never stored: shown once, in the create answer. */
  readonly onceFields: readonly string[]
  /** Listing order when the client gives none; `id` always breaks ties. */
  readonly defaultOrder: readonly FieldOrder[]
  /**
   * An entity the store does not hold (yet) that the collection can still show by its id: an
   * async webhook accepted and waiting to run, as its `queued` execution. Default: none.
   */
  readonly missing?: (scope: Scope, id: string) => Promise<Doc | undefined>
  /** Whether clients may write through the generic routes (false: read-only collection). */
  readonly writable: boolean
  /** Query parameters that creates and updates take (their meaning is the collection's routes'). Default none. */
  readonly saveQuerystring?: TObject
  /** Lists take `q`, a text search (the store's; only executions have one). Default false. */
  readonly searchable?: boolean
  /** A mirrored time column: lists then take `since` and `until` (RFC 3339) on it. */
  readonly timeField?: string
  readonly rules: CollectionRules
}
