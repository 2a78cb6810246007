import type { CollectionDef, CollectionRules, WriteContext } from '../collections/collection.ts'
import { AppError, type FieldError } from '../errors.ts'
import type { Doc, Scope, Store } from '../store/store.ts'
import { assertWithin, rightsOfRoles } from './grants.ts'
import { User, UserCreate } from './iam-schemas.ts'
import { unknownRoles } from './roles.ts'

async function complete(draft: Record<string, unknown>, tx: Store, scope: Scope): Promise<User> {
  const opts = (draft.opts ?? {}) as Partial<User['opts']>
  const user: User = {
    id: draft.id as string,
    login: draft.login as string,
    name: (draft.name as string | undefined) ?? '',
    roles: (draft.roles as string[] | undefined) ?? [],
    opts: { comment: opts.comment ?? '', email: opts.email ?? '' },
    ext: draft.ext as User['ext'],
  }
  const problems: FieldError[] = (await unknownRoles(tx, scope, user.roles)).map((role) => ({
    field: 'roles',
    message: `'${role}' is not a known role`,
  }))
  const [first] = problems
  if (first) throw new AppError('bad_request', `${first.field}: ${first.message}`, problems)
  return user
}

/** The roles a write gives the user must lie within the writer's own rights (docs/iam.md). */
async function checkGrants(user: User, before: Doc | undefined, { tx, scope, rights }: WriteContext): Promise<void> {
  const held = (before?.roles as string[] | undefined) ?? []
  const added = user.roles.filter((role) => !held.includes(role))
  if (added.length === 0) return
  assertWithin(rights, await rightsOfRoles(tx, scope, added), 'roles', `role ${added.map((role) => `'${role}'`).join(', ')}`)
}

const rules: CollectionRules = {
  async create(draft, context) {
    const user = await complete(draft, context.tx, context.scope)
    await checkGrants(user, undefined, context)
    return user as unknown as Doc
  },
  async update(merged, before, _patch, context) {
    const user = await complete(merged, context.tx, context.scope)
    await checkGrants(user, before, context)
    return user as unknown as Doc
  },
  async remove(before, { tx, scope }) {
    const keys = await tx.table('api_keys').count(scope, [{ path: ['userid'], value: before.id }])
    if (keys > 0) {
      throw new AppError('conflict', `user '${String(before.login)}' still has ${keys} API key(s); delete them first`)
    }
    const channels = await tx.table('integration_points').list(scope, {
      filter: [{ path: ['opts', 'userid'], value: before.id }],
      order: [],
      offset: 0,
      limit: 10,
    })
    if (channels.length > 0) {
      const codes = channels.map((channel) => channel.code).join(', ')
      throw new AppError('conflict', `user '${String(before.login)}' is opts.userid of channels ${codes}; change them first`)
    }
  },
}

export const usersCollection: CollectionDef = {
  name: 'users',
  path: '/rest/v1/iam/users',
  noun: 'user',
  master: false,
  entity: User,
  createBody: UserCreate,
  keys: ['login'],
  secrets: [],
  hidden: [],
  onceFields: [],
  defaultOrder: [{ path: ['login'], descending: false }],
  writable: true,
  rules,
}
