import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  Kysely,
  type SqliteDatabase,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  sql,
} from 'kysely'
import { createKyselyStore, observeQueries, queryOperation } from './kysely-store.ts'
import type { QueryObserver, Store } from './store.ts'
import type { StoreTraits } from './traits.ts'

/** `$."a"."b"`: quoted labels, so any key (but a double quote, refused at the edge) is one step. */
function jsonPath(path: readonly string[]): string {
  let out = '$'
  for (const part of path) out += `."${part}"`
  return out
}

export const sqliteTraits: StoreTraits = {
  kind: 'sqlite',
  docType: 'text',
  readDoc: (raw) => JSON.parse(raw as string),
  docText: sql<string>`doc`,
  // `->` yields the minified JSON text of the value, and json(?) the same for the parameter.
  docEquals: (path, value) => sql<boolean>`(doc -> ${jsonPath(path)}) = json(${JSON.stringify(value)})`,
  docIsNull: (path) => sql<boolean>`coalesce(doc -> ${jsonPath(path)}, 'null') = 'null'`,
  docSortKey: (path) => sql`doc ->> ${jsonPath(path)}`,
  docNumber: (path) => sql`doc ->> ${jsonPath(path)}`,
  duplicateColumn(error) {
    const code = (error as { code?: unknown }).code
    if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return undefined
    // "UNIQUE constraint failed: integration_points.domain_id, integration_points.code"
    const message = (error as Error).message
    return message.slice(message.lastIndexOf('.') + 1).trim()
  },
  // SQLite locks the database, not rows: one write transaction at a time (see `lock` below).
  rowLocks: false,
  // A deferred transaction that read a snapshot and then tries to write after another
  // connection committed: SQLite refuses the write rather than lose the other one.
  writeConflict: (error) => (error as { code?: unknown }).code === 'SQLITE_BUSY_SNAPSHOT',
  // Write transactions hold SQLite's one write lock from their start (`begin immediate`), across
  // the processes sharing the file: they are already serialised, so there is nothing more to lock.
  lock: async () => {},
  // FTS5 rows are keyed by integer: each record gets a stable one in executions_search_keys
  // (the executions table's own rowid may change with VACUUM). The index keeps no copy of the
  // text (contentless); triggers keep it in step with every insert, upsert and delete.
  async createExecutionSearch(db) {
    const body = sql.raw(`json_extract(new.doc, '$.input.webhook.body'), json_extract(new.doc, '$.input.webhook.headers')`)
    const key = (row: 'new' | 'old') => sql.raw(`(select key from executions_search_keys where id = ${row}.id)`)
    await sql`create table executions_search_keys (key integer primary key, id text not null unique)`.execute(db)
    await sql`create virtual table executions_search using fts5(body, headers, content='', contentless_delete=1)`.execute(db)
    await sql`create trigger executions_search_insert after insert on executions begin
      insert into executions_search_keys (id) values (new.id);
      insert into executions_search (rowid, body, headers) values (${key('new')}, ${body});
    end`.execute(db)
    await sql`create trigger executions_search_update after update of doc on executions begin
      delete from executions_search where rowid = ${key('old')};
      insert into executions_search (rowid, body, headers) values (${key('new')}, ${body});
    end`.execute(db)
    await sql`create trigger executions_search_delete after delete on executions begin
      delete from executions_search where rowid = ${key('old')};
      delete from executions_search_keys where id = old.id;
    end`.execute(db)
    await sql`insert into executions_search_keys (id) select id from executions`.execute(db)
    await sql`insert into executions_search (rowid, body, headers)
      select k.key, json_extract(e.doc, '$.input.webhook.body'), json_extract(e.doc, '$.input.webhook.headers')
      from executions e join executions_search_keys k on k.id = e.id`.execute(db)
  },
  executionMatches: (words) =>
    sql<boolean>`id in (select k.id from executions_search s join executions_search_keys k on k.key = s.rowid
      where executions_search match ${words.map((word) => `"${word}"*`).join(' ')})`,
  readCount: (raw) => Number(raw),
}

/** Prepared statements kept per SQL text; the collection layer produces a small, fixed set. */
const STATEMENT_CACHE_SIZE = 256

/**
 * Prepared statements reused by SQL text: preparing costs more than running a point query
 * (profiled: 8 % of a GET by id went to `prepare`). Statements are only run to completion
 * (`all`/`run`), never left half-iterated, so reuse is safe.
 */
function statementCache(database: Database.Database): (sql: string) => Database.Statement {
  const statements = new Map<string, Database.Statement>()
  return (sql) => {
    let statement = statements.get(sql)
    if (!statement) {
      statement = database.prepare(sql)
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value as string)
      statements.set(sql, statement)
    }
    return statement
  }
}

/**
 * A transaction takes SQLite's write lock when it begins (`begin immediate`), not at its first
 * write: the workers of a node share the file, and a deferred transaction that reads and then
 * writes fails with SQLITE_BUSY when another process committed in between (a busy handler cannot
 * resolve that). Writers wait for each other instead, up to the busy timeout.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #open: () => boolean

  constructor(config: SqliteDialectConfig, transactionOpen: () => boolean) {
    super(config)
    this.#open = transactionOpen
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }

  // SQLite ends a transaction itself on some errors (a full disk): a rollback then would fail
  // ("no transaction is active") and its error would hide the one that matters.
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.#open()) await super.rollbackTransaction(connection)
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig
  readonly #open: () => boolean

  constructor(config: SqliteDialectConfig, transactionOpen: () => boolean) {
    super(config)
    this.#config = config
    this.#open = transactionOpen
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config, this.#open)
  }
}

/**
 * How long a write waits for another process's write lock, ms. The wait blocks the thread (the
 * busy handler sleeps), so write transactions are kept short: one batch, no I/O inside.
 */
const BUSY_TIMEOUT_MS = 5000

/**
 * Opens (creating if needed) the SQLite store at `file`; `:memory:` for a throwaway one.
 *
 * The workers of a node share the file in WAL mode (SPEC §13): readers never wait for a writer,
 * and writers take turns (`begin immediate`, a busy timeout). The node itself holds the data
 * directory against a second node (workers/data-dir-lock.ts).
 */
export function openSqliteStore(file: string, options: { readonly onQuery?: QueryObserver } = {}): Store {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const database = new Database(file, { timeout: BUSY_TIMEOUT_MS })
  try {
    database.pragma('journal_mode = WAL')
    // NORMAL in WAL mode survives a process crash (kill -9); only an OS crash may lose the last commits.
    database.pragma('synchronous = NORMAL')
    // Checkpoint at ~40 MB of WAL instead of 4 MB: batches of execution records rewrite the same
    // last pages of each index, and a checkpoint copies only the newest version of each page.
    database.pragma('wal_autocheckpoint = 10000')
  } catch (error) {
    database.close()
    throw error
  }
  const prepare = statementCache(database)
  const kyselyDatabase: SqliteDatabase = { prepare, close: () => database.close() }
  const { onQuery } = options
  const db = new Kysely<unknown>({
    dialect: new ImmediateSqliteDialect({ database: kyselyDatabase }, () => database.inTransaction),
    ...(onQuery !== undefined && { log: observeQueries(onQuery) }),
  })
  // better-sqlite3 runs a statement synchronously, so a read started while no transaction is
  // open on the connection completes before any other code runs and sees only committed rows.
  // It skips Kysely's connection queue (a promise hop per query): measured 22 → 9 µs per read.
  const readNow = (sql: string, parameters: readonly unknown[]) =>
    database.inTransaction ? undefined : (prepare(sql).all(parameters) as unknown[])
  return createKyselyStore(db, sqliteTraits, {
    readNow:
      onQuery === undefined
        ? readNow
        : (sql, parameters) => {
            const started = performance.now()
            const rows = readNow(sql, parameters)
            if (rows !== undefined) onQuery(queryOperation(sql), (performance.now() - started) / 1000)
            return rows
          },
  })
}
