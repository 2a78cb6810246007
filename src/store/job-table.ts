import type { Kysely } from 'kysely'
import type { JobRow, JobTable } from './store.ts'
import type { StoreTraits } from './traits.ts'

// biome-ignore lint/suspicious/noExplicitAny: adapter boundary (kysely-store.ts)
type AnyDb = Kysely<any>

/**
 * The jobs table with leases (store.ts JobTable). `transaction` runs a claim atomically: on SQLite
 * the transaction holds the write lock from its start, on PostgreSQL an advisory lock serialises
 * the claimers.
 */
export function jobTable(
  db: AnyDb,
  traits: StoreTraits,
  transaction: <T>(fn: (db: AnyDb) => Promise<T>) => Promise<T>,
): JobTable {
  const rows = (found: { id: string; domain_id: string; doc: unknown }[]): JobRow[] =>
    found.map((row) => ({ id: row.id, scope: row.domain_id, doc: traits.readDoc(row.doc) }))
  return {
    async insert(jobs, owner, leaseUntil) {
      if (jobs.length === 0) return
      await db
        .insertInto('jobs')
        .values(
          jobs.map((job) => ({ id: job.id, domain_id: job.scope, doc: JSON.stringify(job.doc), owner, lease_until: leaseUntil })),
        )
        .execute()
    },
    claim({ owner, epoch, now, leaseUntil, limit }) {
      return transaction(async (tx) => {
        await traits.lock(tx, 'jobs.claim')
        const found = await tx
          .selectFrom('jobs')
          .select(['id', 'domain_id', 'doc'])
          .where((eb) => eb.or([eb('lease_until', '<', now), eb('owner', 'not like', `${epoch}/%`)]))
          .orderBy('lease_until')
          .limit(limit)
          .execute()
        if (found.length === 0) return []
        await tx
          .updateTable('jobs')
          .set({ owner, lease_until: leaseUntil })
          .where(
            'id',
            'in',
            found.map((row) => row.id),
          )
          .execute()
        return rows(found)
      })
    },
    async renew(owner, leaseUntil) {
      const result = await db.updateTable('jobs').set({ lease_until: leaseUntil }).where('owner', '=', owner).executeTakeFirst()
      return Number(result.numUpdatedRows)
    },
    async release(owner) {
      const result = await db.updateTable('jobs').set({ lease_until: 0 }).where('owner', '=', owner).executeTakeFirst()
      return Number(result.numUpdatedRows)
    },
    async update(job) {
      await db
        .updateTable('jobs')
        .set({ doc: JSON.stringify(job.doc) })
        .where('id', '=', job.id)
        .execute()
    },
    async get(scope, id) {
      const row = await db
        .selectFrom('jobs')
        .select(['id', 'domain_id', 'doc'])
        .where('id', '=', id)
        .where('domain_id', '=', scope)
        .executeTakeFirst()
      return row === undefined ? undefined : rows([row])[0]
    },
    async remove(ids) {
      if (ids.length === 0) return 0
      const result = await db
        .deleteFrom('jobs')
        .where('id', 'in', [...ids])
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}
