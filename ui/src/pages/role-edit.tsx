import { useState } from 'preact/hooks'
import { ApiError, PATHS, request } from '../api/client.ts'
import { PERMISSION_METHODS, type Permission, type PermissionMethod, type Role } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { navigate } from '../app/router.ts'
import { useResource } from '../app/use-resource.ts'
import { DeleteEntity } from '../components/delete-entity.tsx'
import { Checkbox, Field, TextField } from '../components/field.tsx'
import { ErrorNote, Loaded } from '../components/states.tsx'

/** Routes people often grant, offered as they type (any other pattern may be typed). */
const COMMON_ROUTES = [
  '/rest/v1/*',
  '/rest/v1/service/*',
  '/rest/v1/service/integration_points/*',
  '/rest/v1/service/svcscripts/*',
  '/rest/v1/service/svcscripts/*/run',
  '/rest/v1/service/executions/*',
  '/rest/v1/service/audit',
  '/rest/v1/iam/*',
  '/ws#*',
  '/ws#svcscript',
  '/ws#subscr',
  '/ws#files',
  '/ws#rest',
]

const isCapability = (route: string) => route.trim().startsWith('/ws#')

/** The methods that apply to a route: WEBSOCKET to capabilities (`/ws#…`), the others to REST paths. */
function methodsFor(route: string): readonly PermissionMethod[] {
  return isCapability(route) ? ['WEBSOCKET', '*'] : PERMISSION_METHODS.filter((method) => method !== 'WEBSOCKET')
}

interface Draft {
  code: string
  name: string
  permissions: Permission[]
}

const NEW_ROW: Permission = { route: '', methods: ['GET'] }

/** What is sent: each row's methods limited to those shown for its route (the others are hidden). */
function bodyOf(draft: Draft): Draft {
  return {
    code: draft.code.trim(),
    name: draft.name.trim(),
    permissions: draft.permissions.map(({ route, methods }) => {
      const applicable = methodsFor(route)
      return { route: route.trim(), methods: methods.filter((method) => applicable.includes(method)) }
    }),
  }
}

export function RoleEdit({ id }: { id: string }) {
  const creating = id === 'new'
  const role = useResource(() => (creating ? Promise.resolve(null) : request<Role>('GET', `${PATHS.roles}/${id}`)), [id])
  return (
    <section>
      <p class="crumbs">
        <Link href="/roles">Roles</Link> /
      </p>
      <Loaded resource={role}>{(found) => <RoleForm key={found?.id ?? 'new'} role={found} onSaved={role.reload} />}</Loaded>
    </section>
  )
}

function RoleForm({ role, onSaved }: { role: Role | null; onSaved: () => void }) {
  const [draft, setDraft] = useState<Draft>(
    role ? { code: role.code, name: role.name, permissions: role.permissions } : { code: '', name: '', permissions: [NEW_ROW] },
  )
  const [problem, setProblem] = useState<unknown>(null)
  const [noMethods, setNoMethods] = useState<ReadonlySet<number>>(new Set())
  const [saved, setSaved] = useState(false)
  const [busy, setBusy] = useState(false)
  const about = (field: string) => (problem instanceof ApiError ? problem.about(field) : undefined)
  const change = (next: Partial<Draft>) => {
    setSaved(false)
    setDraft((current) => ({ ...current, ...next }))
  }
  const setRow = (index: number, row: Permission) =>
    change({ permissions: draft.permissions.map((current, at) => (at === index ? row : current)) })

  const save = async (event: Event) => {
    event.preventDefault()
    const body = bodyOf(draft)
    // A permission needs a method; say so at the row rather than as the schema's words.
    const empty = new Set(body.permissions.flatMap((permission, index) => (permission.methods.length === 0 ? [index] : [])))
    setNoMethods(empty)
    if (empty.size > 0) return
    setBusy(true)
    setProblem(null)
    try {
      const stored = role
        ? await request<Role>('PATCH', `${PATHS.roles}/${role.id}`, body)
        : await request<Role>('POST', PATHS.roles, body)
      if (role) {
        setDraft({ code: stored.code, name: stored.name, permissions: stored.permissions })
        setSaved(true)
        onSaved()
      } else navigate(`/roles/${stored.id}`)
    } catch (error) {
      setProblem(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <div class="page-head">
        <h1>{role ? role.code : 'New role'}</h1>
        {role && (
          <Link href={`/audit?entity=${role.id}`} class="button">
            History
          </Link>
        )}
      </div>
      <form class="form" onSubmit={save} noValidate>
        {problem !== null && <ErrorNote error={problem} />}
        {saved && (
          <p class="note ok" role="status">
            Saved. It applies from the next request on.
          </p>
        )}
        <fieldset>
          <legend>Role</legend>
          <TextField
            label="Code"
            value={draft.code}
            onInput={(code) => change({ code })}
            required
            error={about('code')}
            hint="users and channels name the role by it; cannot change while someone holds it"
            mono
          />
          <TextField label="Name" value={draft.name} onInput={(name) => change({ name })} error={about('name')} />
        </fieldset>
        <fieldset class="permissions-set">
          <legend>Permissions</legend>
          <p class="hint">
            A route is a REST path: <code>*</code> at the end covers the path and everything below it, <code>*</code> elsewhere
            one segment. <code>/ws#subscr</code> names a websocket capability.
          </p>
          {draft.permissions.length === 0 && <p class="sub">No permissions: the role allows nothing.</p>}
          {draft.permissions.map((permission, index) => (
            <PermissionRow
              key={index}
              index={index}
              permission={permission}
              routeError={about(`permissions.${index}.route`)}
              methodsError={noMethods.has(index) ? 'choose at least one method' : about(`permissions.${index}.methods`)}
              onChange={(row) => setRow(index, row)}
              onRemove={() => change({ permissions: draft.permissions.filter((_, at) => at !== index) })}
            />
          ))}
          <div class="actions">
            <button type="button" onClick={() => change({ permissions: [...draft.permissions, NEW_ROW] })}>
              Add a permission
            </button>
          </div>
          <datalist id="common-routes">
            {COMMON_ROUTES.map((route) => (
              <option key={route} value={route} />
            ))}
          </datalist>
        </fieldset>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : role ? 'Save changes' : 'Create role'}
          </button>
          {role && (
            <DeleteEntity
              path={`${PATHS.roles}/${role.id}`}
              title={`Delete role ${role?.code}?`}
              backTo="/roles"
              onError={setProblem}
            >
              A role that users or channels hold cannot be deleted: take it from them first.
            </DeleteEntity>
          )}
        </div>
      </form>
    </>
  )
}

function PermissionRow({
  index,
  permission,
  routeError,
  methodsError,
  onChange,
  onRemove,
}: {
  index: number
  permission: Permission
  routeError: string | undefined
  methodsError: string | undefined
  onChange: (row: Permission) => void
  onRemove: () => void
}) {
  const applicable = methodsFor(permission.route)
  return (
    <fieldset class="permission">
      <legend>Permission {index + 1}</legend>
      <Field label="Route" error={routeError} hint="a REST path pattern or /ws#<capability>">
        {(inputId, described) => (
          <input
            id={inputId}
            class="mono"
            list="common-routes"
            value={permission.route}
            placeholder="/rest/v1/service/*"
            aria-describedby={described}
            aria-invalid={routeError ? true : undefined}
            onInput={(event) => onChange({ ...permission, route: (event.currentTarget as HTMLInputElement).value })}
          />
        )}
      </Field>
      <fieldset class="plain-set methods" aria-describedby={methodsError ? `permission-${index}-methods-error` : undefined}>
        <legend>Methods</legend>
        <div class="checks">
          {applicable.map((method) => (
            <Checkbox
              key={method}
              label={method === '*' ? 'all' : method}
              checked={permission.methods.includes(method)}
              onChange={(on) =>
                onChange({
                  ...permission,
                  methods: on ? [...permission.methods, method] : permission.methods.filter((item) => item !== method),
                })
              }
            />
          ))}
        </div>
        {methodsError && (
          <span class="field-error" id={`permission-${index}-methods-error`} role="alert">
            {methodsError}
          </span>
        )}
      </fieldset>
      <div class="remove">
        <button type="button" class="small danger" onClick={onRemove} aria-label={`Remove permission ${index + 1}`}>
          Remove
        </button>
      </div>
    </fieldset>
  )
}
