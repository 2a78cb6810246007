import { type Kysely, sql } from 'kysely'
import type { Migration } from 'kysely/migration'
import type { StoreTraits } from './traits.ts'

/**
 * Schema migrations, applied in name order at start. Never edit a released migration: add one.
 * Unique constraints are named `<table>__<column>` so a violation names its column on both engines.
 */
export function migrations(traits: StoreTraits): Record<string, Migration> {
  const doc = traits.docType
  return {
    '0001_collections': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute()

        await db.schema
          .createTable('domains')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addUniqueConstraint('domains__name', ['name'])
          .execute()

        await db.schema
          .createTable('channel_types')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addUniqueConstraint('channel_types__type', ['type'])
          .execute()

        await db.schema
          .createTable('integration_points')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('code', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('token_local', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addUniqueConstraint('integration_points__code', ['domain_id', 'code'])
          .addUniqueConstraint('integration_points__token_local', ['token_local'])
          .execute()
        await db.schema
          .createIndex('integration_points_by_type')
          .on('integration_points')
          .columns(['domain_id', 'type'])
          .execute()

        await db.schema
          .createTable('svcscripts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('code', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addUniqueConstraint('svcscripts__code', ['domain_id', 'code'])
          .execute()

        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('login', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addUniqueConstraint('users__login', ['domain_id', 'login'])
          .execute()

        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('userid', 'text', (c) => c.notNull())
          .addColumn('key_hash', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addUniqueConstraint('api_keys__key_hash', ['key_hash'])
          .execute()
        await db.schema.createIndex('api_keys_by_user').on('api_keys').columns(['userid']).execute()
      },
    },
    '0002_executions': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('executions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('channel_id', 'text')
          .addColumn('script_code', 'text', (c) => c.notNull())
          .addColumn('trigger', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .execute()
        await db.schema.createIndex('executions_by_time').on('executions').columns(['started_at']).execute()
        await db.schema.createIndex('executions_by_domain').on('executions').columns(['domain_id', 'started_at']).execute()
        await db.schema
          .createIndex('executions_by_channel')
          .on('executions')
          .columns(['domain_id', 'channel_id', 'started_at'])
          .execute()
      },
    },
    '0003_jobs': {
      async up(db: Kysely<unknown>) {
        // Accepted async work (queue/store-queue.ts): a row lives from its accept to its last run.
        await db.schema
          .createTable('jobs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .execute()
      },
    },
    '0004_temp_links': {
      async up(db: Kysely<unknown>) {
        // Temporary file links (files/temp-links.ts): the id is the SHA-256 of the link's secret.
        await db.schema
          .createTable('temp_links')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .execute()
        await db.schema.createIndex('temp_links_by_expiry').on('temp_links').columns(['expires_at']).execute()
      },
    },
    '0005_roles': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('roles')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('code', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addUniqueConstraint('roles__code', ['domain_id', 'code'])
          .execute()
      },
    },
    '0006_audit': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('audit')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('ts', 'text', (c) => c.notNull())
          .addColumn('collection', 'text', (c) => c.notNull())
          .addColumn('entity_id', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .execute()
        await db.schema.createIndex('audit_by_time').on('audit').columns(['ts']).execute()
        await db.schema.createIndex('audit_by_domain').on('audit').columns(['domain_id', 'ts']).execute()
        await db.schema.createIndex('audit_by_entity').on('audit').columns(['domain_id', 'entity_id']).execute()
      },
    },
    '0007_job_leases': {
      async up(db: Kysely<unknown>) {
        // The workers of a node share the embedded queue (SPEC §13): a job is held by the worker
        // whose lease on it lives (store.ts JobTable). Jobs stored before this have no owner.
        await db.schema
          .alterTable('jobs')
          .addColumn('owner', 'text', (c) => c.notNull().defaultTo(''))
          .execute()
        await db.schema
          .alterTable('jobs')
          .addColumn('lease_until', 'bigint', (c) => c.notNull().defaultTo(0))
          .execute()
        await db.schema.createIndex('jobs_by_lease').on('jobs').columns(['lease_until']).execute()
        await db.schema.createIndex('jobs_by_owner').on('jobs').columns(['owner']).execute()
      },
    },
    '0008_revisions': {
      async up(db: Kysely<unknown>) {
        // Every write of a document gives it a new revision (kysely-store.ts): the ETag of the
        // REST API and the check of a read-modify-write. A constant default keeps this instant
        // on both engines (no table rewrite); rows stored before it have revision '0'.
        for (const table of [
          'domains',
          'channel_types',
          'integration_points',
          'svcscripts',
          'users',
          'api_keys',
          'executions',
          'jobs',
          'temp_links',
          'roles',
          'audit',
        ]) {
          await db.schema
            .alterTable(table)
            .addColumn('rev', 'text', (c) => c.notNull().defaultTo('0'))
            .execute()
        }
      },
    },
    '0009_dedup': {
      async up(db: Kysely<unknown>) {
        // Idempotency keys of webhooks (webhooks/webhook-dedup.ts), kept until `expires_at`.
        await db.schema
          .createTable('dedup')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addColumn('rev', 'text', (c) => c.notNull().defaultTo('0'))
          .execute()
        await db.schema.createIndex('dedup_by_expiry').on('dedup').columns(['expires_at']).execute()
      },
    },
    '0010_deliveries': {
      async up(db: Kysely<unknown>) {
        // Outbound deliveries (deliveries/deliveries.ts); their attempts run from the jobs queue.
        await db.schema
          .createTable('deliveries')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('channel_id', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addColumn('rev', 'text', (c) => c.notNull().defaultTo('0'))
          .execute()
        await db.schema
          .createIndex('deliveries_by_channel')
          .on('deliveries')
          .columns(['domain_id', 'channel_id', 'created_at'])
          .execute()
        await db.schema.createIndex('deliveries_by_status').on('deliveries').columns(['domain_id', 'status']).execute()
      },
    },
    '0011_execution_search': {
      async up(db: Kysely<unknown>) {
        // Search of executions by what their webhooks carried (body, headers).
        await traits.createExecutionSearch(db)
      },
    },
    '0012_svcscript_versions': {
      async up(db: Kysely<unknown>) {
        // Every saved source of a script (scripts/script-versions.ts).
        await db.schema
          .createTable('svcscript_versions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('domain_id', 'text', (c) => c.notNull())
          .addColumn('script_id', 'text', (c) => c.notNull())
          .addColumn('doc', doc, (c) => c.notNull())
          .addColumn('rev', 'text', (c) => c.notNull().defaultTo('0'))
          .execute()
        await db.schema.createIndex('svcscript_versions_by_script').on('svcscript_versions').columns(['script_id']).execute()
      },
    },
    '0013_execution_traffic': {
      async up(db: Kysely<unknown>) {
        // Traffic per channel (executions/traffic-routes.ts) reads only the index: the domain's
        // window, with the channel, status and duration of each execution, and not the documents
        // (on 100,000 records, reading each document's duration took 1.7 s; the index, about 0.1 s).
        await db.schema.alterTable('executions').addColumn('duration_ms', 'double precision').execute()
        await sql`update executions set duration_ms = ${traits.docNumber(['duration_ms'])}`.execute(db)
        await db.schema.dropIndex('executions_by_domain').execute()
        await db.schema
          .createIndex('executions_by_domain')
          .on('executions')
          .columns(['domain_id', 'started_at', 'channel_id', 'status', 'duration_ms'])
          .execute()
      },
    },
  }
}
