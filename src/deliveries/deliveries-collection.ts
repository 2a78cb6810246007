import { Type } from '@sinclair/typebox'
import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import { Delivery } from './delivery-schemas.ts'

const readOnly: CollectionRules = {
  create: () => Promise.reject(new Error('deliveries are made by POST …/integration_points/<id>/deliver and channels.deliver')),
  update: () => Promise.reject(new Error('deliveries change by their retry and cancel routes only')),
}

/** `/rest/v1/service/deliveries`: read-only, newest first; `failed` ones are the dead letters. */
export const deliveriesCollection: CollectionDef = {
  name: 'deliveries',
  path: '/rest/v1/service/deliveries',
  noun: 'delivery',
  master: false,
  entity: Delivery,
  createBody: Type.Object({}),
  keys: [],
  secrets: [],
  // The body as sent: the collection shows `payload`, bounded.
  hidden: ['body'],
  onceFields: [],
  defaultOrder: [{ path: ['created_at'], descending: true }],
  writable: false,
  timeField: 'created_at',
  rules: readOnly,
}
