import { randomUUID } from 'node:crypto'
import { CompiledQuery, type Expression, type Kysely, type LogEvent, sql } from 'kysely'
import { Migrator } from 'kysely/migration'
import { jobTable } from './job-table.ts'
import { migrations } from './migrations.ts'
import {
  type Doc,
  type DocumentTable,
  DuplicateKeyError,
  type FieldFilter,
  type ListQuery,
  type QueryObserver,
  type QueryOperation,
  type ReadOptions,
  type Scope,
  type ScopedDoc,
  type Settings,
  type Store,
  TABLES,
  type TableName,
  type TextSearch,
  WriteConflictError,
} from './store.ts'
import type { StoreTraits } from './traits.ts'

// Tables are addressed by name from generic code, so the query builder runs untyped here;
// the typed surface is the `Store` interface.
// biome-ignore lint/suspicious/noExplicitAny: adapter boundary, see above
type AnyDb = Kysely<any>

export interface KyselyStoreOptions {
  /**
   * PostgreSQL: the schema of the migration bookkeeping tables. Kysely looks for them by name
   * across all schemas otherwise, and another schema's would fool it.
   */
  readonly migrationSchema?: string
  /**
   * Runs a read at once, outside Kysely's connection queue, when that is safe; undefined when it
   * is not (SQLite: while a transaction is open on the one connection). See sqlite-store.ts.
   */
  readonly readNow?: (sql: string, parameters: readonly unknown[]) => unknown[] | undefined
}

/** The statement kind of `sql`, from its first word (`with` counts as a select). */
export function queryOperation(sql: string): QueryOperation {
  let start = 0
  while (start < sql.length && sql.charCodeAt(start) <= 32) start++
  const word = sql.slice(start, start + 6).toLowerCase()
  if (word === 'select' || word.startsWith('with')) return 'select'
  if (word === 'insert' || word === 'update' || word === 'delete') return word
  return 'other'
}

/** Kysely's `log` option that reports each statement's latency to `observer`. */
export function observeQueries(observer: QueryObserver): (event: LogEvent) => void {
  return (event) => observer(queryOperation(event.query.sql), event.queryDurationMillis / 1000)
}

/** The one Store implementation; `traits` carries what differs between SQLite and PostgreSQL. */
export function createKyselyStore(db: Kysely<unknown>, traits: StoreTraits, options: KyselyStoreOptions = {}): Store {
  return storeOn(db as AnyDb, traits, false, options)
}

function storeOn(db: AnyDb, traits: StoreTraits, inTransaction: boolean, options: KyselyStoreOptions): Store {
  /** Runs compiled SQL: at once when the engine allows it, else through Kysely's connection. */
  const run = async (compiled: string, parameters: readonly unknown[]): Promise<Record<string, unknown>[]> => {
    const rows = inTransaction ? undefined : options.readNow?.(compiled, parameters)
    return (rows ?? (await db.executeQuery(CompiledQuery.raw(compiled, [...parameters]))).rows) as Record<string, unknown>[]
  }
  const tables = new Map<TableName, DocumentTable>()
  const store: Store = {
    kind: traits.kind,
    table(name) {
      let table = tables.get(name)
      if (!table) {
        table = documentTable(db, traits, name, run)
        tables.set(name, table)
      }
      return table
    },
    settings: settings(db),
    jobs: jobTable(db, traits, (fn) => (inTransaction ? fn(db) : db.transaction().execute(fn))),
    async transaction(fn) {
      if (inTransaction) return fn(store)
      try {
        return await db.transaction().execute((trx) => fn(storeOn(trx, traits, true, options)))
      } catch (error) {
        if (traits.writeConflict(error)) {
          throw new WriteConflictError('the database aborted the transaction: it conflicted with another one', { cause: error })
        }
        throw error
      }
    },
    async lock(key) {
      if (!inTransaction) throw new Error('Store.lock() needs a transaction')
      await traits.lock(db, key)
    },
    async migrate(target) {
      const migrator = new Migrator({
        db,
        provider: { getMigrations: async () => migrations(traits) },
        ...(options.migrationSchema !== undefined && { migrationTableSchema: options.migrationSchema }),
      })
      const { error } = await (target === undefined ? migrator.migrateToLatest() : migrator.migrateTo(target))
      if (error) throw error
    },
    async ping() {
      await sql`select 1`.execute(db)
    },
    async close() {
      await db.destroy()
    },
  }
  return store
}

type Run = (compiled: string, parameters: readonly unknown[]) => Promise<Record<string, unknown>[]>

/** A new revision for a document being written (see `Revised`). */
const newRevision = (): string => randomUUID()

function documentTable(db: AnyDb, traits: StoreTraits, name: TableName, run: Run): DocumentTable {
  const { scoped, columns } = TABLES[name]
  const mirrored = new Set<string>(['id', ...columns])
  // The read by id is the hot one: its SQL is compiled once (parameters: [domain_id?, id]).
  const byId = (scoped ? db.selectFrom(name).where('domain_id', '=', '') : db.selectFrom(name)).where('id', '=', '')
  const getById = byId.select('doc').compile().sql
  const getJsonById = byId.select([traits.docText.as('doc'), 'rev']).compile().sql

  function columnValues(doc: Doc): Record<string, unknown> {
    const values: Record<string, unknown> = {}
    // A field the document lacks is the column's null (a multi-row insert has no per-row default).
    for (const column of columns) values[column] = doc[column] ?? null
    return values
  }

  function condition(filter: FieldFilter): Expression<boolean> {
    const [first] = filter.path
    if (filter.op !== undefined) {
      if (filter.path.length !== 1 || first === undefined || !mirrored.has(first) || typeof filter.value !== 'string') {
        throw new Error(`${name}: a range needs a mirrored column and a string`)
      }
      return filter.op === 'gte'
        ? sql<boolean>`${sql.ref(first)} >= ${filter.value}`
        : sql<boolean>`${sql.ref(first)} < ${filter.value}`
    }
    if (filter.path.length === 1 && first !== undefined && mirrored.has(first) && typeof filter.value === 'string') {
      return sql<boolean>`${sql.ref(first)} = ${filter.value}`
    }
    return filter.value === null ? traits.docIsNull(filter.path) : traits.docEquals(filter.path, filter.value)
  }

  function searched(words: TextSearch): Expression<boolean> {
    if (name !== 'executions') throw new Error(`${name} cannot be searched by text`)
    if (words.length === 0 || words.some((word) => !/^[\p{L}\p{N}]+$/u.test(word))) {
      throw new Error('a text search needs words of letters and digits')
    }
    return traits.executionMatches(words)
  }

  function sortKey(path: readonly string[]): Expression<unknown> {
    const [first] = path
    return path.length === 1 && first !== undefined && mirrored.has(first) ? sql.ref(first) : traits.docSortKey(path)
  }

  function duplicate(error: unknown): unknown {
    const column = traits.duplicateColumn(error)
    return column === undefined ? error : new DuplicateKeyError(name, column, { cause: error })
  }

  function select(scope: Scope) {
    const query = db.selectFrom(name)
    return scoped ? query.where('domain_id', '=', scope) : query
  }

  function locked<Q extends { forUpdate(): Q; forShare(): Q }>(query: Q, { lock }: ReadOptions): Q {
    if (lock === undefined || !traits.rowLocks) return query
    return lock === 'update' ? query.forUpdate() : query.forShare()
  }

  function stale(rev: string, id: string): WriteConflictError {
    return new WriteConflictError(`${name} '${id}' is no longer at revision ${rev}`)
  }

  return {
    async get(scope, id) {
      const [row] = await run(getById, scoped ? [scope, id] : [id])
      return row ? traits.readDoc(row.doc) : undefined
    },
    async read(scope, id, options = {}) {
      const row = await locked(select(scope).select(['doc', 'rev']).where('id', '=', id), options).executeTakeFirst()
      return row ? { doc: traits.readDoc(row.doc), rev: row.rev } : undefined
    },
    async getJson(scope, id) {
      const [row] = await run(getJsonById, scoped ? [scope, id] : [id])
      return row ? { json: row.doc as string, rev: row.rev as string } : undefined
    },
    async findBy(column, value, scope, options = {}) {
      let query = db
        .selectFrom(name)
        .select(scoped ? ['doc', 'domain_id'] : ['doc'])
        .where(column, '=', value)
      if (scoped && scope !== undefined) query = query.where('domain_id', '=', scope)
      const row = await locked(query, options).executeTakeFirst()
      return row ? { scope: scoped ? row.domain_id : null, doc: traits.readDoc(row.doc) } : undefined
    },
    async list(scope, query: ListQuery) {
      let builder = select(scope).select('doc')
      for (const filter of query.filter) builder = builder.where(condition(filter))
      if (query.search !== undefined) builder = builder.where(searched(query.search))
      for (const order of query.order) {
        builder = builder.orderBy(sortKey(order.path), (ob) => (order.descending ? ob.desc().nullsLast() : ob.asc().nullsFirst()))
      }
      const rows = await builder.orderBy('id').limit(query.limit).offset(query.offset).execute()
      return rows.map((row) => traits.readDoc(row.doc))
    },
    async count(scope, filter, search) {
      let builder = select(scope).select(sql<unknown>`count(*)`.as('n'))
      for (const item of filter) builder = builder.where(condition(item))
      if (search !== undefined) builder = builder.where(searched(search))
      const row = await builder.executeTakeFirstOrThrow()
      return traits.readCount(row.n)
    },
    async scan(where) {
      let query = db.selectFrom(name).select(scoped ? ['doc', 'domain_id'] : ['doc'])
      if (where) query = query.where(where.column, '=', where.value)
      const rows = await query.orderBy('id').execute()
      return rows.map((row): ScopedDoc => ({ scope: scoped ? row.domain_id : null, doc: traits.readDoc(row.doc) }))
    },
    async countBy(scope, column) {
      const rows = await select(scope)
        .select([column, sql<unknown>`count(*)`.as('n')])
        .groupBy(column)
        .execute()
      return new Map(rows.map((row) => [String(row[column]), traits.readCount(row.n)]))
    },
    async countGrouped(scope, filter, groupBy, perMinute) {
      const keys = groupBy.map((column) => {
        if (!mirrored.has(column)) throw new Error(`${name}: ${column} is not a mirrored column`)
        // RFC 3339 UTC times sort and cut as text: the first 16 characters are the minute.
        return column === perMinute ? sql<string>`substr(${sql.ref(column)}, 1, 16)` : sql<string>`${sql.ref(column)}`
      })
      let builder = select(scope).select([...keys.map((key, i) => key.as(`k${i}`)), sql<unknown>`count(*)`.as('n')])
      for (const item of filter) builder = builder.where(condition(item))
      for (const key of keys) builder = builder.groupBy(key)
      const rows = (await builder.execute()) as Record<string, unknown>[]
      return rows.map((row) => ({
        values: keys.map((_, i) => (row[`k${i}`] === null ? null : String(row[`k${i}`]))),
        count: traits.readCount(row.n),
      }))
    },
    async percentileBy(scope, filter, column, path, percent) {
      if (!mirrored.has(column)) throw new Error(`${name}: ${column} is not a mirrored column`)
      if (!Number.isInteger(percent) || percent < 1 || percent > 100) throw new Error('a percentile is a whole percent')
      const value = sortKey(path)
      const [first] = path
      const absent =
        path.length === 1 && first !== undefined && mirrored.has(first)
          ? sql<boolean>`${sql.ref(first)} is null`
          : traits.docIsNull(path)
      let ranked = select(scope)
        .select([
          sql.ref(column).as('grp'),
          sql<unknown>`${value}`.as('v'),
          sql<unknown>`row_number() over (partition by ${sql.ref(column)} order by ${value})`.as('r'),
          sql<unknown>`count(*) over (partition by ${sql.ref(column)})`.as('n'),
        ])
        .where(sql<boolean>`not (${absent})`)
      for (const item of filter) ranked = ranked.where(condition(item))
      // Nearest rank: the ceil(n · percent / 100)-th smallest, in integer arithmetic.
      const rows = (await db
        .selectFrom(ranked.as('ranked'))
        .select(['grp', 'v'])
        .where(sql<boolean>`r = (n * ${sql.lit(percent)} + 99) / 100`)
        .execute()) as { grp: string | null; v: unknown }[]
      return new Map(rows.map((row) => [row.grp, Number(row.v)]))
    },
    async insert(scope, doc) {
      const rev = newRevision()
      const values = { id: doc.id, ...(scoped && { domain_id: scope }), ...columnValues(doc), doc: JSON.stringify(doc), rev }
      try {
        await db.insertInto(name).values(values).execute()
      } catch (error) {
        throw duplicate(error)
      }
      return rev
    },
    async update(scope, doc, options = {}) {
      const rev = newRevision()
      let result: { numUpdatedRows: bigint }
      try {
        let query = db
          .updateTable(name)
          .set({ ...columnValues(doc), doc: JSON.stringify(doc), rev })
          .where('id', '=', doc.id)
        if (scoped) query = query.where('domain_id', '=', scope)
        if (options.rev !== undefined) query = query.where('rev', '=', options.rev)
        result = await query.executeTakeFirst()
      } catch (error) {
        throw duplicate(error)
      }
      if (options.rev !== undefined && result.numUpdatedRows === 0n) throw stale(options.rev, doc.id)
      return rev
    },
    async upsert(scope, doc) {
      const values = { ...columnValues(doc), doc: JSON.stringify(doc), rev: newRevision() }
      await db
        .insertInto(name)
        .values({ id: doc.id, ...(scoped && { domain_id: scope }), ...values })
        .onConflict((oc) => oc.column('id').doUpdateSet(values))
        .execute()
    },
    async upsertMany(items, options = {}) {
      if (items.length === 0) return
      const rows = items.map(({ scope, doc, text }) => ({
        id: doc.id,
        ...(scoped && { domain_id: scope }),
        ...columnValues(doc),
        doc: text ?? JSON.stringify(doc),
        rev: newRevision(),
      }))
      await db
        .insertInto(name)
        .values(rows)
        .onConflict((oc) =>
          options.keepExisting
            ? oc.column('id').doNothing()
            : oc
                .column('id')
                .doUpdateSet((eb) =>
                  Object.fromEntries(['doc', 'rev', ...columns].map((column) => [column, eb.ref(`excluded.${column}`)])),
                ),
        )
        .execute()
    },
    async removeBefore(column, value) {
      const result = await db.deleteFrom(name).where(column, '<', value).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
    async keepNewest(column, keep) {
      // The `keep`-th newest value is the threshold; older rows go (ties at the threshold stay).
      const edge = await db
        .selectFrom(name)
        .select(column)
        .orderBy(column, 'desc')
        .limit(1)
        .offset(Math.max(keep - 1, 0))
        .executeTakeFirst()
      if (!edge) return 0
      const result = await db.deleteFrom(name).where(column, '<', edge[column]).executeTakeFirst()
      return Number(result.numDeletedRows)
    },
    async removeMany(ids) {
      if (ids.length === 0) return 0
      const result = await db
        .deleteFrom(name)
        .where('id', 'in', [...ids])
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    },
    async remove(scope, id, options = {}) {
      let query = db.deleteFrom(name).where('id', '=', id)
      if (scoped) query = query.where('domain_id', '=', scope)
      if (options.rev !== undefined) query = query.where('rev', '=', options.rev)
      const result = await query.executeTakeFirst()
      if (options.rev !== undefined && result.numDeletedRows === 0n) throw stale(options.rev, id)
      return Number(result.numDeletedRows) > 0
    },
  }
}

function settings(db: AnyDb): Settings {
  return {
    async get(key) {
      const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst()
      return row?.value
    },
    async setIfAbsent(key, value) {
      await db
        .insertInto('settings')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute()
      const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow()
      return row.value
    },
    async set(key, value) {
      await db
        .insertInto('settings')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute()
    },
  }
}
