import { list, PATHS } from '../api/client.ts'
import type { Permission, Role } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { useResource } from '../app/use-resource.ts'
import { Empty, Loaded } from '../components/states.tsx'

/** `GET, POST` or `all` for a permission's methods. */
function methodsText(permission: Permission): string {
  return permission.methods.includes('*') ? 'all' : permission.methods.join(', ')
}

/** The roles of the domain with their permissions (SPEC §10); the built-in `admin` first, read-only. */
export function Roles() {
  const roles = useResource(() => list<Role>(PATHS.roles, { limit: 1000, order: 'code' }), [])
  return (
    <section>
      <div class="page-head">
        <h1>Roles</h1>
        <Link href="/roles/new" class="button primary">
          New role
        </Link>
      </div>
      <p class="sub">
        A role is a list of routes and the methods allowed on them. Users hold roles (on the{' '}
        <Link href="/users">Users &amp; keys</Link> page), and so may channel tokens (a channel's <em>Roles</em>).
      </p>
      <Loaded resource={roles}>
        {({ items }) => (
          <>
            <div class="table-wrap">
              <table class="stack">
                <thead>
                  <tr>
                    <th scope="col">Code</th>
                    <th scope="col">Permissions</th>
                  </tr>
                </thead>
                <tbody>
                  <tr>
                    <td>
                      admin <span class="badge">built in</span>
                    </td>
                    <td>everything in the domain (read-only)</td>
                  </tr>
                  {items.map((role) => (
                    <tr key={role.id}>
                      <td>
                        <Link href={`/roles/${role.id}`}>{role.code}</Link>
                        {role.name && <div class="sub">{role.name}</div>}
                      </td>
                      <td>
                        {role.permissions.length === 0 ? (
                          <span class="sub">none: allows nothing</span>
                        ) : (
                          <ul class="plain permissions">
                            {role.permissions.map((permission, index) => (
                              <li key={index}>
                                <span class="methods">{methodsText(permission)}</span> <code>{permission.route}</code>
                              </li>
                            ))}
                          </ul>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {items.length === 0 && (
              <Empty>
                <p>No roles of your own yet: only admin, which may do everything.</p>
                <Link href="/roles/new" class="button primary">
                  Define a role
                </Link>
              </Empty>
            )}
          </>
        )}
      </Loaded>
    </section>
  )
}
