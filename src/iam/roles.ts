import type { Scope, Store } from '../store/store.ts'

/** The built-in role: everything in its domain (and master rights in the `master` domain). */
export const ADMIN_ROLE = 'admin'

/**
 * The codes among `codes` that name no role of the domain (`admin` is always known). The roles
 * found stay locked `share` until `tx` commits: a concurrent delete or rename of one waits for
 * the write that refers to it, and then sees that reference.
 */
export async function unknownRoles(tx: Store, scope: Scope, codes: readonly string[]): Promise<string[]> {
  const unknown: string[] = []
  for (const code of new Set(codes)) {
    if (code !== ADMIN_ROLE && !(await tx.table('roles').findBy('code', code, scope, { lock: 'share' }))) unknown.push(code)
  }
  return unknown
}
