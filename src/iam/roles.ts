/** The built-in role: everything in its domain (and master rights in the `master` domain). */
export const ADMIN_ROLE = 'admin'

const BUILT_IN_ROLES: ReadonlySet<string> = new Set([ADMIN_ROLE])

/** Whether `code` names a role that can be granted. Custom roles arrive with the roles collection. */
export function isKnownRole(code: string): boolean {
  return BUILT_IN_ROLES.has(code)
}
