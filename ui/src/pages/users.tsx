import { useLayoutEffect, useRef, useState } from 'preact/hooks'
import { ApiError, list, PATHS, request } from '../api/client.ts'
import type { ApiKey, Role, User } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { useResource } from '../app/use-resource.ts'
import { Confirm } from '../components/confirm.tsx'
import { CopyButton } from '../components/copy-button.tsx'
import { TextField } from '../components/field.tsx'
import { RolePicker, roleChoices } from '../components/role-picker.tsx'
import { Empty, ErrorNote, Loaded } from '../components/states.tsx'
import { Ago } from '../components/status-badge.tsx'

/** Users of the domain, their roles and their API keys (SPEC §10). A new key's secret is shown once. */
export function Users() {
  const users = useResource(() => list<User>(PATHS.users, { limit: 1000, order: 'login' }), [])
  const keys = useResource(() => list<ApiKey>(PATHS.apiKeys, { limit: 1000 }), [])
  const roleCodes = useResource(
    async () => (await list<Role>(PATHS.roles, { mask: 'code', limit: 1000, order: 'code' })).items.map((role) => role.code),
    [],
  )
  const known = roleCodes.state === 'ready' ? roleCodes.data : []
  const [login, setLogin] = useState('')
  const [name, setName] = useState('')
  const [roles, setRoles] = useState<string[]>(['admin'])
  const [editing, setEditing] = useState<string | null>(null)
  const [problem, setProblem] = useState<unknown>(null)
  const [secret, setSecret] = useState<{ user: string; key: string } | null>(null)
  // The name each user's next key gets (what it is for).
  const [keyNames, setKeyNames] = useState<Record<string, string>>({})
  const [removing, setRemoving] = useState<{ what: 'user' | 'key'; id: string; label: string } | null>(null)
  const about = (field: string) => (problem instanceof ApiError ? problem.about(field) : undefined)

  const create = async (event: Event) => {
    event.preventDefault()
    setProblem(null)
    try {
      await request('POST', PATHS.users, { login: login.trim(), name: name.trim(), roles })
      setLogin('')
      setName('')
      users.reload()
    } catch (error) {
      setProblem(error)
    }
  }
  const newKey = async (user: User) => {
    setProblem(null)
    try {
      const created = await request<ApiKey>('POST', PATHS.apiKeys, {
        userid: user.id,
        name: keyNames[user.id]?.trim() || `console ${new Date().toISOString().slice(0, 10)}`,
      })
      setKeyNames((names) => ({ ...names, [user.id]: '' }))
      setSecret({ user: user.login, key: created.key ?? '' })
      keys.reload()
    } catch (error) {
      setProblem(error)
    }
  }
  const remove = async () => {
    if (!removing) return
    setRemoving(null)
    try {
      await request('DELETE', `${removing.what === 'user' ? PATHS.users : PATHS.apiKeys}/${removing.id}`)
      users.reload()
      keys.reload()
    } catch (error) {
      setProblem(error)
    }
  }

  return (
    <section>
      <div class="page-head">
        <h1>Users &amp; keys</h1>
      </div>
      {problem !== null && !about('login') && !about('roles') && <ErrorNote error={problem} />}
      {secret && (
        <div class="note ok" role="status">
          <p>
            New API key for <strong>{secret.user}</strong>. It is shown only now: copy it.
          </p>
          <div class="token-row">
            <code class="token">{secret.key}</code>
            <CopyButton text={secret.key} />
            <button type="button" class="small" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <Loaded resource={users}>
        {({ items }) =>
          items.length === 0 ? (
            <Empty>No users yet: the root key does everything. Add a user to give someone a key of their own.</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Login</th>
                    <th scope="col">Roles</th>
                    <th scope="col">API keys</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((user) => {
                    const mine = keys.state === 'ready' ? keys.data.items.filter((key) => key.userid === user.id) : []
                    return (
                      <tr key={user.id}>
                        <td>
                          {user.login}
                          {user.name && <div class="sub">{user.name}</div>}
                        </td>
                        <td>
                          {editing === user.id ? (
                            <RolesEditor
                              user={user}
                              choices={roleChoices(known, user.roles)}
                              onDone={(changed) => {
                                setEditing(null)
                                if (changed) users.reload()
                                // Back to the button that opened the editor, once it is drawn again.
                                requestAnimationFrame(() =>
                                  document.querySelector<HTMLElement>(`[data-edit-roles="${user.id}"]`)?.focus(),
                                )
                              }}
                            />
                          ) : (
                            <>
                              {user.roles.join(', ') || '—'}{' '}
                              <button
                                type="button"
                                class="link small"
                                aria-label={`Edit the roles of ${user.login}`}
                                data-edit-roles={user.id}
                                onClick={() => setEditing(user.id)}
                              >
                                edit
                              </button>
                            </>
                          )}
                        </td>
                        <td>
                          <ul class="plain">
                            {mine.map((key) => (
                              <li key={key.id} class="small">
                                <strong>{key.name || key.id.slice(0, 8)}</strong> · made <Ago at={key.ext.ct} /> · last used{' '}
                                {key.last_used_at ? <Ago at={key.last_used_at} /> : 'never'}{' '}
                                <button
                                  type="button"
                                  class="link"
                                  onClick={() => setRemoving({ what: 'key', id: key.id, label: key.name || key.id })}
                                >
                                  revoke
                                </button>
                              </li>
                            ))}
                          </ul>
                          <div class="new-key">
                            <input
                              aria-label={`Name of the new key for ${user.login}`}
                              class="key-name"
                              placeholder="what it is for"
                              value={keyNames[user.id] ?? ''}
                              onInput={(event) =>
                                setKeyNames((names) => ({ ...names, [user.id]: (event.currentTarget as HTMLInputElement).value }))
                              }
                            />
                            <button type="button" class="small" onClick={() => newKey(user)}>
                              New key
                            </button>
                          </div>
                        </td>
                        <td>
                          <button
                            type="button"
                            class="small danger"
                            onClick={() => setRemoving({ what: 'user', id: user.id, label: user.login })}
                          >
                            Delete
                          </button>
                        </td>
                      </tr>
                    )
                  })}
                </tbody>
              </table>
            </div>
          )
        }
      </Loaded>
      <form class="form panel" onSubmit={create} noValidate aria-labelledby="new-user">
        <h2 id="new-user">Add a user</h2>
        <div class="row">
          <TextField label="Login" value={login} onInput={setLogin} required error={about('login')} />
          <TextField label="Name" value={name} onInput={setName} error={about('name')} />
        </div>
        <RolePicker legend="Roles" choices={roleChoices(known, roles)} value={roles} onChange={setRoles} error={about('roles')} />
        <p class="hint">
          admin may do everything in the domain; define narrower roles on the <Link href="/roles">Roles</Link> page.
        </p>
        <div class="actions">
          <button type="submit" class="primary" disabled={login.trim() === ''}>
            Add user
          </button>
        </div>
      </form>
      <Confirm
        open={removing !== null}
        title={removing?.what === 'user' ? `Delete user ${removing.label}?` : `Revoke key ${removing?.label}?`}
        confirm={removing?.what === 'user' ? 'Delete' : 'Revoke'}
        danger
        onConfirm={remove}
        onCancel={() => setRemoving(null)}
      >
        {removing?.what === 'user'
          ? 'A user with keys or channels acting as them cannot be deleted until those are gone.'
          : 'The key stops working at once.'}
      </Confirm>
    </section>
  )
}

/** A user's roles as checkboxes, saved with a PATCH (the list replaces the old one). */
function RolesEditor({ user, choices, onDone }: { user: User; choices: string[]; onDone: (changed: boolean) => void }) {
  const [roles, setRoles] = useState(user.roles)
  const [problem, setProblem] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const form = useRef<HTMLFormElement>(null)
  // The editor opens where the person clicked "edit": take the focus there, to its first box.
  useLayoutEffect(() => form.current?.querySelector('input')?.focus(), [])
  const save = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setProblem(null)
    try {
      await request('PATCH', `${PATHS.users}/${user.id}`, { roles })
      onDone(true)
    } catch (error) {
      setProblem(error)
      setBusy(false)
    }
  }
  const rolesProblem = problem instanceof ApiError ? problem.about('roles') : undefined
  return (
    <form
      ref={form}
      class="roles-editor"
      onSubmit={save}
      onKeyDown={(event) => {
        if (event.key === 'Escape') onDone(false)
      }}
      noValidate
    >
      <RolePicker legend={`Roles of ${user.login}`} choices={choices} value={roles} onChange={setRoles} error={rolesProblem} />
      {problem !== null && !rolesProblem && <ErrorNote error={problem} />}
      <div class="actions">
        <button type="submit" class="small primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save roles'}
        </button>
        <button type="button" class="small" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  )
}
