import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import { AppError, type FieldError } from '../errors.ts'
import type { Doc, Scope, Store, TableName } from '../store/store.ts'
import { assertWithin } from './grants.ts'
import { Role, RoleCreate } from './iam-schemas.ts'
import { compilePermission, type Rights, rightsOf, routeProblem } from './permissions.ts'
import { ADMIN_ROLE } from './roles.ts'

function complete(draft: Record<string, unknown>): Role {
  const role: Role = {
    id: draft.id as string,
    code: draft.code as string,
    name: (draft.name as string | undefined) ?? '',
    permissions: (draft.permissions as Role['permissions'] | undefined) ?? [],
    ext: draft.ext as Role['ext'],
  }
  if (role.code === ADMIN_ROLE)
    throw new AppError('conflict', `role '${ADMIN_ROLE}' is built in`, [{ field: 'code', message: 'is built in' }])
  const problems: FieldError[] = []
  role.permissions.forEach((permission, i) => {
    const problem = routeProblem(permission.route, permission.methods)
    if (problem) problems.push({ field: `permissions.${i}.route`, message: problem })
  })
  const [first] = problems
  if (first) throw new AppError('bad_request', `${first.field} ${first.message}`, problems)
  return role
}

const PAGE = 1000

/** Codes of the users and channels of the domain that hold role `code`. */
async function holders(tx: Store, scope: Scope, code: string): Promise<string[]> {
  const found: string[] = []
  const scan = async (table: TableName, roles: (doc: Doc) => unknown, name: (doc: Doc) => string) => {
    for (let offset = 0; ; offset += PAGE) {
      const page = await tx.table(table).list(scope, { filter: [], order: [], offset, limit: PAGE })
      for (const doc of page) if ((roles(doc) as string[]).includes(code)) found.push(name(doc))
      if (page.length < PAGE) return
    }
  }
  await scan(
    'users',
    (doc) => doc.roles,
    (doc) => `user ${String(doc.login)}`,
  )
  await scan(
    'integration_points',
    (doc) => (doc.opts as { roles: string[] }).roles,
    (doc) => `channel ${String(doc.code)}`,
  )
  return found
}

async function refuseWhileHeld(tx: Store, scope: Scope, code: string, what: string): Promise<void> {
  const held = await holders(tx, scope, code)
  if (held.length === 0) return
  const shown = held.slice(0, 10).join(', ') + (held.length > 10 ? `, and ${held.length - 10} more` : '')
  throw new AppError('conflict', `role '${code}' is held by ${shown}; ${what}`)
}

/**
 * What a write adds to a role, verb by verb: its holders gain it, so it must lie within the
 * writer's own rights (docs/iam.md). Permissions the role already had are not checked again.
 */
function checkGrants(role: Role, before: Doc | undefined, rights: Rights): void {
  const had = new Set(
    ((before?.permissions as Role['permissions'] | undefined) ?? []).flatMap(({ route, methods }) =>
      methods.map((method) => `${method} ${route}`),
    ),
  )
  const added = role.permissions.flatMap(({ route, methods }) =>
    methods.filter((method) => !had.has(`${method} ${route}`)).map((method) => compilePermission({ route, methods: [method] })),
  )
  if (added.length > 0) assertWithin(rights, rightsOf(added), 'permissions', `role '${role.code}'`)
}

const rules: CollectionRules = {
  async create(draft, { rights }) {
    const role = complete(draft)
    checkGrants(role, undefined, rights)
    return role as unknown as Doc
  },
  async update(merged, before, _patch, { tx, scope, rights }) {
    const role = complete(merged)
    checkGrants(role, before, rights)
    if (role.code !== before.code) await refuseWhileHeld(tx, scope, before.code as string, 'take it from them before renaming it')
    return role as unknown as Doc
  },
  async remove(before, { tx, scope }) {
    await refuseWhileHeld(tx, scope, before.code as string, 'take it from them first')
  },
}

/**
 * `/rest/v1/iam/roles` (SPEC §10): `{code, name, permissions: [{route, methods}]}`. The built-in
 * `admin` is not stored (its code cannot be taken). A role that users or channels hold cannot be
 * deleted or renamed.
 */
export const rolesCollection: CollectionDef = {
  name: 'roles',
  path: '/rest/v1/iam/roles',
  noun: 'role',
  master: false,
  entity: Role,
  createBody: RoleCreate,
  keys: ['code'],
  secrets: [],
  hidden: [],
  onceFields: [],
  defaultOrder: [{ path: ['code'], descending: false }],
  writable: true,
  rules,
}
