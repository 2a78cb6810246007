import { AppError } from '../errors.ts'
import type { Scope, Store } from '../store/store.ts'
import type { Role } from './iam-schemas.ts'
import { ALL_RIGHTS, beyond, compilePermission, NO_RIGHTS, type Rights, rightsOf } from './permissions.ts'
import { ADMIN_ROLE } from './roles.ts'

/**
 * The rights role codes give in a domain, read in the write's transaction (so a role changed by
 * the same write, or a moment before on another node, counts as it is now).
 */
export async function rightsOfRoles(tx: Store, scope: Scope, codes: readonly string[]): Promise<Rights> {
  if (codes.includes(ADMIN_ROLE)) return ALL_RIGHTS
  if (codes.length === 0) return NO_RIGHTS
  const permissions = []
  for (const code of new Set(codes)) {
    const found = await tx.table('roles').findBy('code', code, scope)
    if (found) permissions.push(...(found.doc as unknown as Role).permissions.map(compilePermission))
  }
  return rightsOf(permissions)
}

/** The rights of user `userId` (its roles), read in the write's transaction; none for an unknown user. */
export async function rightsOfUser(tx: Store, scope: Scope, userId: string | null): Promise<Rights> {
  if (userId === null) return NO_RIGHTS
  const user = await tx.table('users').get(scope, userId)
  return user ? rightsOfRoles(tx, scope, user.roles as string[]) : NO_RIGHTS
}

/**
 * Refuses (1403) a grant that gives more than the granter holds: `granted` must lie within
 * `caller`. `field` is the field that grants it, `what` says what it is ("role 'ops'", "a key for
 * user 'ann'"); the message names the first right the caller lacks.
 */
export function assertWithin(caller: Rights, granted: Rights, field: string, what: string): void {
  const missing = beyond(caller, granted)
  if (missing === undefined) return
  const message = `gives more rights than the caller holds (${missing})`
  throw new AppError('forbidden', `${what} ${message}`, [{ field, message }])
}
