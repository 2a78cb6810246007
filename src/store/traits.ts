import type { Kysely, RawBuilder } from 'kysely'
import type { Doc, JsonValue } from './store.ts'

/** Everything that differs between the SQLite and PostgreSQL stores, and nothing else. */
export interface StoreTraits {
  readonly kind: 'sqlite' | 'postgres'
  /** Column type of the `doc` column. */
  readonly docType: 'text' | 'jsonb'
  readDoc(raw: unknown): Doc
  /** The `doc` column as JSON text, in a select list. */
  readonly docText: RawBuilder<string>
  /** The JSON value at `path` inside `doc` equals `value` (JSON equality). */
  docEquals(path: readonly string[], value: JsonValue): RawBuilder<boolean>
  /** The value at `path` is JSON null or absent. */
  docIsNull(path: readonly string[]): RawBuilder<boolean>
  /** A sort key for the value at `path`. */
  docSortKey(path: readonly string[]): RawBuilder<unknown>
  /** The number at `path` as an SQL number (to fill a mirrored column from the documents). */
  docNumber(path: readonly string[]): RawBuilder<number | null>
  /** The column a unique-constraint violation is about, or undefined if `error` is not one. */
  duplicateColumn(error: unknown): string | undefined
  /**
   * Whether `select … for update | for share` locks single rows. Without it (SQLite) a write
   * transaction must exclude every other writer of the database until it ends.
   */
  readonly rowLocks: boolean
  /** Whether `error` aborted a transaction because another one conflicted with it (it may be retried). */
  writeConflict(error: unknown): boolean
  /** Transaction-scoped lock on `key` across every connection to this database. */
  lock(db: Kysely<unknown>, key: string): Promise<void>
  /**
   * Creates the full-text index of execution records: the webhook body and headers of each,
   * kept current as records are written and deleted (SQLite: FTS5; PostgreSQL: a tsvector).
   */
  createExecutionSearch(db: Kysely<unknown>): Promise<void>
  /** An execution record whose body or headers hold a word starting with each of `words` (letters and digits only). */
  executionMatches(words: readonly string[]): RawBuilder<boolean>
  /** Turns a count(*) result into a number (PostgreSQL answers bigint as a string). */
  readCount(raw: unknown): number
}
