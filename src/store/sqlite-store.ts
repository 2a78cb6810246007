import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { createKyselyStore } from './kysely-store.ts'
import type { Store } from './store.ts'
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
  // `->` yields the minified JSON text of the value, and json(?) the same for the parameter.
  docEquals: (path, value) => sql<boolean>`(doc -> ${jsonPath(path)}) = json(${JSON.stringify(value)})`,
  docIsNull: (path) => sql<boolean>`coalesce(doc -> ${jsonPath(path)}, 'null') = 'null'`,
  docSortKey: (path) => sql`doc ->> ${jsonPath(path)}`,
  duplicateColumn(error) {
    const code = (error as { code?: unknown }).code
    if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return undefined
    // "UNIQUE constraint failed: integration_points.domain_id, integration_points.code"
    const message = (error as Error).message
    return message.slice(message.lastIndexOf('.') + 1).trim()
  },
  // The SQLite dialect runs every query on one connection behind a mutex: transactions are
  // already serialised, so there is nothing more to lock.
  lock: async () => {},
  readCount: (raw) => Number(raw),
}

/** Opens (creating if needed) the SQLite store at `file`; `:memory:` for a throwaway one. */
export function openSqliteStore(file: string): Store {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  const database = new Database(file)
  database.pragma('journal_mode = WAL')
  // NORMAL in WAL mode survives a process crash (kill -9); only an OS crash may lose the last commits.
  database.pragma('synchronous = NORMAL')
  database.pragma('busy_timeout = 5000')
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database }) })
  return createKyselyStore(db, sqliteTraits)
}
