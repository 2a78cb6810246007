/**
 * The state store. Capabilities talk to this interface only; `kysely-store.ts` implements it
 * once for SQLite and PostgreSQL, with the dialect differences kept in `StoreTraits`.
 */

/** A JSON value as stored. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** A stored entity: a JSON object with a string `id`. */
export type Doc = { readonly id: string } & Record<string, unknown>

/** Tables of documents, and which top-level fields each mirrors into an indexed column. */
export const TABLES = {
  domains: { scoped: false, columns: ['name'] },
  channel_types: { scoped: false, columns: ['type'] },
  integration_points: { scoped: true, columns: ['code', 'type', 'token_local'] },
  svcscripts: { scoped: true, columns: ['code'] },
  svcscript_versions: { scoped: true, columns: ['script_id'] },
  users: { scoped: true, columns: ['login'] },
  api_keys: { scoped: true, columns: ['userid', 'key_hash'] },
  roles: { scoped: true, columns: ['code'] },
  audit: { scoped: true, columns: ['ts', 'collection', 'entity_id'] },
  executions: { scoped: true, columns: ['channel_id', 'script_code', 'trigger', 'status', 'started_at', 'duration_ms'] },
  jobs: { scoped: true, columns: [] },
  temp_links: { scoped: true, columns: ['expires_at'] },
  /** Webhook idempotency keys seen (webhooks/webhook-dedup.ts); the id is a hash of channel and key. */
  dedup: { scoped: true, columns: ['expires_at'] },
  /** Outbound deliveries (deliveries/deliveries.ts). */
  deliveries: { scoped: true, columns: ['channel_id', 'status', 'created_at'] },
} as const satisfies Record<string, { scoped: boolean; columns: readonly string[] }>

export type TableName = keyof typeof TABLES

/**
 * Which rows a call sees: the id of a domain for domain-scoped tables,
 * `null` for the global tables (domains, channel types).
 */
export type Scope = string | null

/**
 * A condition on a field; `path` is a dotted field path split into its parts. Equality by
 * default; `gte`/`lt` compare a mirrored column with a string (times in RFC 3339 UTC sort as text).
 */
export interface FieldFilter {
  readonly path: readonly string[]
  readonly value: JsonValue
  readonly op?: 'gte' | 'lt'
}

export interface FieldOrder {
  readonly path: readonly string[]
  readonly descending: boolean
}

/**
 * Words to find (letters and digits, lower-case): a record matches when, for each, a word of its
 * searchable text starts with it. Only `executions` is searchable (its webhook body and headers).
 */
export type TextSearch = readonly string[]

export interface ListQuery {
  readonly filter: readonly FieldFilter[]
  /** Default: none. */
  readonly search?: TextSearch
  /** Ties are always broken by `id`, so pages are stable. */
  readonly order: readonly FieldOrder[]
  readonly offset: number
  readonly limit: number
}

export interface ScopedDoc {
  readonly scope: Scope
  readonly doc: Doc
  /** The document's JSON text when the caller has made it already (upsertMany: stored as it is). */
  readonly text?: string
}

/**
 * A row lock held until the transaction ends. `update`: no other transaction may lock, change or
 * remove the row (take it before a read-modify-write of that row). `share`: the row may be locked
 * `share` by others too, but no one may change or remove it (take it on a row you refer to, so
 * it cannot go away under the reference). Outside a transaction a lock ends with its statement.
 */
type RowLock = 'update' | 'share'

export interface ReadOptions {
  /** Default: none (a plain read of the committed row). */
  readonly lock?: RowLock
}

interface WriteOptions {
  /**
   * Write only if the stored revision is still this one (the one read); otherwise write nothing
   * and throw WriteConflictError. Default: write whatever the stored revision is.
   */
  readonly rev?: string
}

/**
 * A document with its revision: an opaque value, stored beside the document, that every write
 * of the document replaces with a new unique one (so it never comes back, even when an id is
 * deleted and created again). Documents stored before revisions existed have revision "0".
 */
interface Revised {
  readonly doc: Doc
  readonly rev: string
}

/** Thrown by `insert`/`update` when a unique column (or the id) is already taken. */
export class DuplicateKeyError extends Error {
  override readonly name = 'DuplicateKeyError'
  readonly column: string
  constructor(table: string, column: string, options?: ErrorOptions) {
    super(`duplicate ${column} in ${table}`, options)
    this.column = column
  }
}

/**
 * Another transaction changed what this one read, so its write could not be made as asked: a
 * write with `rev` found another revision (or no row), or the database broke a deadlock or a
 * serialization conflict by aborting this transaction. Nothing of the transaction was kept; it
 * may be run again from the start.
 */
export class WriteConflictError extends Error {
  override readonly name = 'WriteConflictError'
}

export interface DocumentTable {
  get(scope: Scope, id: string): Promise<Doc | undefined>
  /** The document with its revision; `lock` (in a transaction) holds its row until commit. */
  read(scope: Scope, id: string, options?: ReadOptions): Promise<Revised | undefined>
  /** The document as JSON text with its revision, for answering without a parse and re-serialisation. */
  getJson(scope: Scope, id: string): Promise<{ readonly json: string; readonly rev: string } | undefined>
  /**
   * The document whose mirrored `column` equals `value`, in `scope` or, with `scope` undefined,
   * anywhere; `lock` (in a transaction) holds its row until commit.
   */
  findBy(column: string, value: string, scope?: Scope, options?: ReadOptions): Promise<ScopedDoc | undefined>
  list(scope: Scope, query: ListQuery): Promise<Doc[]>
  count(scope: Scope, filter: readonly FieldFilter[], search?: TextSearch): Promise<number>
  /** Every document of every scope (cache warm-up), or those whose mirrored `column` equals `value`. */
  scan(where?: { readonly column: string; readonly value: string }): Promise<ScopedDoc[]>
  /** How many documents in `scope` have each value of the mirrored `column`. */
  countBy(scope: Scope, column: string): Promise<Map<string, number>>
  /**
   * How many documents in `scope` match `filter`, per combination of values of the mirrored
   * `columns`; a column named `perMinute` (an RFC 3339 UTC time) counts by its minute, as
   * `2026-12-03T18:05`. A `null` value is the column's null.
   */
  countGrouped(
    scope: Scope,
    filter: readonly FieldFilter[],
    columns: readonly string[],
    perMinute?: string,
  ): Promise<{ readonly values: readonly (string | null)[]; readonly count: number }[]>
  /**
   * Per value of the mirrored `column` among the documents in `scope` that match `filter`: the
   * `percent` percentile (nearest rank) of the number at `path`; documents without one are left out.
   */
  percentileBy(
    scope: Scope,
    filter: readonly FieldFilter[],
    column: string,
    path: readonly string[],
    percent: number,
  ): Promise<Map<string | null, number>>
  /** Answers the new document's revision. @throws DuplicateKeyError */
  insert(scope: Scope, doc: Doc): Promise<string>
  /**
   * Replaces the document with the same id (if there is one) and answers its new revision.
   * @throws DuplicateKeyError
   * @throws WriteConflictError with `rev`, when the stored revision is another or the row is gone
   */
  update(scope: Scope, doc: Doc, options?: WriteOptions): Promise<string>
  /**
   * Whether a document went.
   * @throws WriteConflictError with `rev`, when the stored revision is another or the row is gone
   */
  remove(scope: Scope, id: string, options?: WriteOptions): Promise<boolean>
  /** Removes documents by id, whatever their scope, in one statement; answers how many went. */
  removeMany(ids: readonly string[]): Promise<number>
  /** Inserts, or replaces the document with the same id. */
  upsert(scope: Scope, doc: Doc): Promise<void>
  /**
   * Many upserts in one statement (execution records: one write per batch). `keepExisting`: a
   * document whose id is stored already is left as it is (inserted only if absent).
   */
  upsertMany(items: readonly ScopedDoc[], options?: { readonly keepExisting?: boolean }): Promise<void>
  /** Deletes, in every scope, the documents whose mirrored `column` sorts before `value`. */
  removeBefore(column: string, value: string): Promise<number>
  /** Deletes, in every scope, all but the `keep` documents with the greatest mirrored `column`. */
  keepNewest(column: string, keep: number): Promise<number>
}

/** An accepted job as the queue stores it (queue/store-queue.ts). */
export interface JobRow {
  readonly id: string
  /** The domain it belongs to. */
  readonly scope: string
  readonly doc: Doc
}

/**
 * The embedded queue's jobs, with leases: a job belongs to one owner (a worker) while the lease
 * the owner keeps renewing lives; a job whose lease ended, or whose owner is of an earlier run of
 * the node (another `epoch`), may be claimed by any worker. Times are ms since the epoch.
 */
export interface JobTable {
  /** Stores new jobs, held by `owner` until `leaseUntil`. */
  insert(jobs: readonly JobRow[], owner: string, leaseUntil: number): Promise<void>
  /**
   * Takes up to `limit` jobs that nobody holds — lease ended before `now`, or owner not of
   * `epoch` — for `owner` until `leaseUntil`, atomically across processes and nodes.
   */
  claim(options: { owner: string; epoch: string; now: number; leaseUntil: number; limit: number }): Promise<JobRow[]>
  /** Extends every lease `owner` holds; answers how many. */
  renew(owner: string, leaseUntil: number): Promise<number>
  /** Ends every lease `owner` holds (it handed its jobs back, or died): others may claim them now. */
  release(owner: string): Promise<number>
  /** Replaces a job's document (its next attempt). */
  update(job: JobRow): Promise<void>
  /** A stored job of `scope` by its id. */
  get(scope: string, id: string): Promise<JobRow | undefined>
  remove(ids: readonly string[]): Promise<number>
}

/** Small named values of the installation (the root key hash, …). */
export interface Settings {
  get(key: string): Promise<string | undefined>
  /** Sets `key` unless it is set; returns the value that is stored afterwards. */
  setIfAbsent(key: string, value: string): Promise<string>
  set(key: string, value: string): Promise<void>
}

/** What a statement does, as latency metrics tell them apart. */
export type QueryOperation = 'select' | 'insert' | 'update' | 'delete' | 'other'

/** Told about every statement a store runs, and how long it took (seconds). */
export type QueryObserver = (operation: QueryOperation, seconds: number) => void

export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  table(name: TableName): DocumentTable
  readonly settings: Settings
  readonly jobs: JobTable
  /**
   * Runs `fn` in one transaction; nested calls join the outer one. Reads see what other
   * transactions committed before each statement (PostgreSQL's read committed; SQLite's write
   * transactions exclude each other): what a read-modify-write depends on must be locked
   * (`read(…, {lock})`, `lock(key)`) or checked (`update(…, {rev})`). The outermost call rejects
   * with WriteConflictError when the database aborted it for a deadlock or a serialization
   * conflict.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>
  /** Inside a transaction: serialise on `key` with every node that shares this database until commit. */
  lock(key: string): Promise<void>
  /**
   * Creates or upgrades the schema (up to the migration named `target`: tests of an upgrade).
   * Safe to run from several nodes at once.
   */
  migrate(target?: string): Promise<void>
  /** Resolves when the database answers. */
  ping(): Promise<void>
  close(): Promise<void>
}
