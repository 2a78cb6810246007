import { Type } from '@sinclair/typebox'
import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import { AuditEntry } from './audit-schemas.ts'

const readOnly: CollectionRules = {
  create: () => Promise.reject(new Error('audit entries are written by the server only')),
  update: () => Promise.reject(new Error('audit entries are written by the server only')),
}

/** `/rest/v1/service/audit` (SPEC §2, §10): read-only, newest first, with the collection conventions. */
export const auditCollection: CollectionDef = {
  name: 'audit',
  path: '/rest/v1/service/audit',
  noun: 'audit entry',
  master: false,
  entity: AuditEntry,
  createBody: Type.Object({}),
  keys: [],
  secrets: [],
  hidden: [],
  onceFields: [],
  defaultOrder: [{ path: ['ts'], descending: true }],
  writable: false,
  rules: readOnly,
}
