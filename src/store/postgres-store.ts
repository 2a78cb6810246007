import { type DatabaseIntrospector, Kysely, PostgresDialect, sql, type TableMetadata } from 'kysely'
import pg from 'pg'
import { createKyselyStore, observeQueries } from './kysely-store.ts'
import type { Doc, QueryObserver, Store } from './store.ts'
import type { StoreTraits } from './traits.ts'

const postgresTraits: StoreTraits = {
  kind: 'postgres',
  docType: 'jsonb',
  readDoc: (raw) => raw as Doc,
  docText: sql<string>`doc::text`,
  docEquals: (path, value) => sql<boolean>`(doc #> ${path}::text[]) = ${JSON.stringify(value)}::jsonb`,
  docIsNull: (path) => sql<boolean>`coalesce(doc #> ${path}::text[], 'null'::jsonb) = 'null'::jsonb`,
  docSortKey: (path) => sql`doc #> ${path}::text[]`,
  docNumber: (path) => sql`(doc #>> ${path}::text[])::double precision`,
  duplicateColumn(error) {
    if ((error as { code?: unknown }).code !== '23505') return undefined
    // Constraints are named `<table>__<column>` by the migrations; the primary key is `<table>_pkey`.
    const constraint = String((error as { constraint?: unknown }).constraint ?? '')
    if (constraint.endsWith('_pkey')) return 'id'
    const at = constraint.indexOf('__')
    return at === -1 ? constraint : constraint.slice(at + 2)
  },
  rowLocks: true,
  // 40P01 deadlock_detected, 40001 serialization_failure: the whole transaction was rolled back.
  writeConflict: (error) => {
    const code = (error as { code?: unknown }).code
    return code === '40P01' || code === '40001'
  },
  async lock(db, key) {
    await sql`select pg_advisory_xact_lock(hashtext(${key}))`.execute(db)
  },
  // A stored generated tsvector ('simple': no stemming, any language) with a GIN index. Words
  // are the runs of letters and digits, as SQLite's FTS5 splits them (the parser alone would keep
  // `ada@example.com` or `a-b` whole).
  async createExecutionSearch(db) {
    await sql`alter table executions add column search tsvector generated always as (to_tsvector('simple'::regconfig,
      regexp_replace(coalesce(doc #>> '{input,webhook,body}', '') || ' ' || coalesce(doc #>> '{input,webhook,headers}', ''),
        '[^[:alnum:]]+', ' ', 'g'))) stored`.execute(db)
    await sql`create index executions_search on executions using gin (search)`.execute(db)
  },
  executionMatches: (words) =>
    sql<boolean>`search @@ to_tsquery('simple'::regconfig, ${words.map((word) => `${word}:*`).join(' & ')})`,
  readCount: (raw) => Number(raw),
}

/**
 * Kysely's Migrator asks the introspector whether its bookkeeping tables exist. The stock one lists
 * every table of every schema and calls has_schema_privilege() by name, which fails with 3F000
 * when another client drops a schema meanwhile (tests do, in parallel; so may other applications
 * sharing the database). This one looks only at the store's own schema, by OID joins.
 */
class OwnSchemaDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return {
      async getSchemas() {
        return (await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace`.execute(db)).rows
      },
      async getTables(): Promise<TableMetadata[]> {
        const { rows } = await sql<{ name: string; schema: string }>`
          select c.relname as name, n.nspname as schema
          from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
          where n.nspname = current_schema() and c.relkind in ('r', 'p')`.execute(db)
        return rows.map((row) => ({ ...row, isView: false, isForeign: false, columns: [] }))
      },
    }
  }
}

export interface PostgresOptions {
  readonly url: string
  /** Schema to use (created if missing); tests use one per run. Default: the server's search_path. */
  readonly schema?: string
  readonly maxConnections?: number
  /** Told about every statement and its latency (metrics). */
  readonly onQuery?: QueryObserver
  /**
   * An idle pooled connection failed (the server restarted, the network dropped it). The pool
   * replaces it by itself, so this is for the log and the metrics.
   */
  readonly onError: (error: unknown) => void
}

export async function openPostgresStore(options: PostgresOptions): Promise<Store> {
  const { url, schema, maxConnections = 10, onQuery, onError } = options
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name '${schema}'`)
  }
  if (schema !== undefined) {
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      await admin.query(`create schema if not exists "${schema}"`)
    } finally {
      await admin.end()
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: maxConnections,
    connectionTimeoutMillis: 10_000,
    ...(schema !== undefined && { options: `-c search_path="${schema}"` }),
  })
  // An idle client that loses its server emits 'error' on the pool; without a listener that kills the process.
  pool.on('error', onError)
  const db = new Kysely<unknown>({
    dialect: new OwnSchemaDialect({ pool }),
    ...(onQuery !== undefined && { log: observeQueries(onQuery) }),
  })
  try {
    const current = schema ?? (await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]?.name
    return createKyselyStore(db, postgresTraits, current === undefined ? {} : { migrationSchema: current })
  } catch (error) {
    await db.destroy()
    throw error
  }
}
