import type { Scope, Store } from '../store/store.ts'

/** The built-in role: everything in its domain (and master rights in the `master` domain). */
export const ADMIN_ROLE = 'admin'

/** The codes among `codes` that name no role of the domain (`admin` is always known). */
export async function unknownRoles(tx: Store, scope: Scope, codes: readonly string[]): Promise<string[]> {
  const unknown: string[] = []
  for (const code of new Set(codes)) {
    if (code !== ADMIN_ROLE && !(await tx.table('roles').findBy('code', code, scope))) unknown.push(code)
  }
  return unknown
}
