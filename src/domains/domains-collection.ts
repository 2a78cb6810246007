import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import { AppError } from '../errors.ts'
import type { Doc, TableName } from '../store/store.ts'
import { DEFAULT_DOMAIN, Domain, DomainCreate, MASTER_DOMAIN } from './domain-schemas.ts'

const BUILT_IN = new Set([MASTER_DOMAIN, DEFAULT_DOMAIN])
const CONTENTS: readonly TableName[] = ['integration_points', 'svcscripts', 'users', 'api_keys', 'roles']

/** How many files a domain holds (its file space lives outside the store). */
export type FileCount = (domainId: string) => Promise<number>

function complete(draft: Record<string, unknown>): Doc {
  const opts = (draft.opts ?? {}) as Record<string, unknown>
  return {
    id: draft.id as string,
    name: draft.name as string,
    license: (draft.license ?? null) as Domain['license'],
    opts: {
      title: opts.title ?? '',
      comment: opts.comment ?? '',
      ...(opts.script_isolation !== undefined && { script_isolation: opts.script_isolation }),
    },
    ext: draft.ext,
  }
}

const rules = (fileCount: FileCount): CollectionRules => ({
  async create(draft) {
    return complete(draft)
  },
  async update(merged, before) {
    if (BUILT_IN.has(before.name as string) && merged.name !== before.name) {
      throw new AppError('bad_request', `the built-in domain '${String(before.name)}' cannot be renamed`, [
        { field: 'name', message: 'cannot be changed' },
      ])
    }
    return complete(merged)
  },
  async remove(before, { tx }) {
    if (BUILT_IN.has(before.name as string)) {
      throw new AppError('bad_request', `the built-in domain '${String(before.name)}' cannot be deleted`)
    }
    const held: string[] = []
    for (const table of CONTENTS) {
      const count = await tx.table(table).count(before.id, [])
      if (count > 0) held.push(`${count} ${table}`)
    }
    const files = await fileCount(before.id)
    if (files > 0) held.push(`${files} files`)
    if (held.length > 0) {
      throw new AppError('conflict', `domain '${String(before.name)}' is not empty (${held.join(', ')}); delete those first`)
    }
  },
})

/** `/rest/v1/master/domains`: a domain is deleted only when it holds nothing (no channels, …, no files). */
export const domainsCollection = (fileCount: FileCount): CollectionDef => ({
  name: 'domains',
  path: '/rest/v1/master/domains',
  noun: 'domain',
  master: true,
  entity: Domain,
  createBody: DomainCreate,
  keys: ['name'],
  secrets: [],
  hidden: [],
  onceFields: [],
  defaultOrder: [{ path: ['name'], descending: false }],
  writable: true,
  rules: rules(fileCount),
})
