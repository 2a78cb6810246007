import assert from 'node:assert/strict'
import { AuditEntry } from '../../src/audit/audit-schemas.ts'
import { assertMatchesSchema } from './assertions.ts'
import { API_KEYS, type Client, json, jsonArray, USERS } from './server.ts'

export const ROLES = '/rest/v1/iam/roles'
export const AUDIT = '/rest/v1/service/audit'

/** A user with `roles` and a key for it, in the domain `admin` acts in. */
export async function userWith(admin: Client, login: string, roles: string[]): Promise<{ id: string; key: string }> {
  const user = await admin.post(USERS, { login, roles })
  assert.equal(user.status, 200, user.text)
  const key = await admin.post(API_KEYS, { userid: json(user).id })
  assert.equal(key.status, 200, key.text)
  return { id: json(user).id as string, key: json(key).key as string }
}

/** The audit entries of one entity, oldest first, without their id and time. */
export async function auditOf(client: Client, entityId: string): Promise<Record<string, unknown>[]> {
  const filter = encodeURIComponent(JSON.stringify({ entity_id: entityId }))
  const entries = jsonArray(await client.get(`${AUDIT}?filter=${filter}&order=ts&limit=1000`))
  for (const entry of entries) assertMatchesSchema(AuditEntry, entry)
  return entries.map(({ id: _id, ts: _ts, ...rest }) => rest)
}

/**
 * The code of a role that opens websocket capabilities (`/ws#<capability>`, method WEBSOCKET):
 * a channel's token uses a capability when its filter and its rights both allow it. Made once
 * per domain; `capabilities` default to all.
 */
export async function capabilityRole(admin: Client, capabilities: readonly string[] = ['*']): Promise<string> {
  const code = `ws-${capabilities.join('-').replace('*', 'all')}`
  const permissions = capabilities.map((capability) => ({ route: `/ws#${capability}`, methods: ['WEBSOCKET'] }))
  const reply = await admin.post(ROLES, { code, permissions })
  if (reply.status !== 409) assert.equal(reply.status, 200, reply.text)
  return code
}
