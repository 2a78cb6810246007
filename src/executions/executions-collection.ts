import { Type } from '@sinclair/typebox'
import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import type { Doc, Scope } from '../store/store.ts'
import { Execution } from './execution-schemas.ts'

const readOnly: CollectionRules = {
  create: () => Promise.reject(new Error('executions are written by the runtime only')),
  update: () => Promise.reject(new Error('executions are written by the runtime only')),
}

/**
 * `/rest/v1/service/executions` (SPEC §5.5): read-only, newest first. `queued`: an accepted async
 * webhook that has no record yet, as its queued execution (an id answered 200 never answers 404).
 */
export const executionsCollection = (queued: (scope: Scope, id: string) => Promise<Doc | undefined>): CollectionDef => ({
  name: 'executions',
  path: '/rest/v1/service/executions',
  noun: 'execution',
  master: false,
  entity: Execution,
  createBody: Type.Object({}),
  keys: [],
  secrets: [],
  hidden: [],
  onceFields: [],
  defaultOrder: [{ path: ['started_at'], descending: true }],
  writable: false,
  timeField: 'started_at',
  searchable: true,
  rules: readOnly,
  missing: queued,
})
