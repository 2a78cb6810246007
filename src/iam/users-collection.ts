import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import { AppError, type FieldError } from '../errors.ts'
import type { Doc, Scope, Store } from '../store/store.ts'
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

const rules: CollectionRules = {
  async create(draft, { tx, scope }) {
    return (await complete(draft, tx, scope)) as unknown as Doc
  },
  async update(merged, _before, _patch, { tx, scope }) {
    return (await complete(merged, tx, scope)) as unknown as Doc
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
