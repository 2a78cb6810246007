import { type Listed, list, PATHS } from '../api/client.ts'
import type { AuditEntry } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { useResource } from '../app/use-resource.ts'
import { Select } from '../components/field.tsx'
import { FilterChip, Pager, urlFilters } from '../components/pager.tsx'
import { Empty, Loaded } from '../components/states.tsx'

const PAGE = 50
const COLLECTIONS = [
  { value: '', label: 'All collections' },
  { value: 'integration_points', label: 'Channels' },
  { value: 'svcscripts', label: 'Scripts' },
  { value: 'files', label: 'Files' },
  { value: 'users', label: 'Users' },
  { value: 'api_keys', label: 'API keys' },
  { value: 'roles', label: 'Roles' },
  { value: 'domains', label: 'Domains (master)' },
  { value: 'channel_types', label: 'Channel types (master)' },
]
const ACTORS = [
  { value: '', label: 'Anyone' },
  { value: 'root', label: 'The root key' },
  { value: 'user', label: 'Users' },
  { value: 'channel', label: 'Channel tokens' },
]
/** A collection as a person names one of its entities. */
const NOUNS: Record<string, string> = {
  integration_points: 'Channel',
  svcscripts: 'Script',
  files: 'File',
  users: 'User',
  api_keys: 'API key',
  roles: 'Role',
  domains: 'Domain',
  channel_types: 'Channel type',
}
const OPERATION_BADGE = { create: 'badge status-ok', update: 'badge', delete: 'badge status-error' } as const

/** Names of the entities an entry may point at, by collection, then id; what cannot be read stays an id. */
type Names = ReadonlyMap<string, ReadonlyMap<string, string>>

async function entityNames(): Promise<Names> {
  const read = async (collection: string, path: string, label: string) => {
    const { items } = await list<Record<string, string>>(path, { mask: `id,${label}`, limit: 1000 })
    return [collection, new Map(items.map((item) => [item.id as string, item[label] as string]))] as const
  }
  // A key whose roles do not allow one of these lists still sees the log, with ids instead of names.
  const settled = await Promise.allSettled([
    read('integration_points', PATHS.channels, 'code'),
    read('svcscripts', PATHS.scripts, 'code'),
    read('users', PATHS.users, 'login'),
    read('api_keys', PATHS.apiKeys, 'name'),
    read('roles', PATHS.roles, 'code'),
  ])
  return new Map(settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])))
}

/** Where the console shows an entity, if it has a page for it. */
function pageOf(collection: string, id: string): string | undefined {
  switch (collection) {
    case 'integration_points':
      return `/channels/${id}`
    case 'svcscripts':
      return `/scripts/${id}`
    case 'roles':
      return `/roles/${id}`
    case 'users':
    case 'api_keys':
      return '/users'
    case 'files':
      return `/files?prefix=${encodeURIComponent(id.slice(0, id.lastIndexOf('/') + 1))}`
    default:
      return undefined
  }
}

function Who({ actor, known }: { actor: AuditEntry['actor']; known: Names }) {
  if (actor.kind === 'root') return <>root key</>
  if (actor.kind === 'user') {
    const login = known.get('users')?.get(actor.id)
    return (
      <>
        user {login ? <Link href="/users">{login}</Link> : <code class="small">{actor.id}</code>}
        {actor.key_id && (
          <div class="sub">
            key {known.get('api_keys')?.get(actor.key_id) || <code class="small">{actor.key_id.slice(0, 8)}</code>}
          </div>
        )}
      </>
    )
  }
  const code = known.get('integration_points')?.get(actor.id)
  return <>channel {code ? <Link href={`/channels/${actor.id}`}>{code}</Link> : <code class="small">{actor.id}</code>}</>
}

function What({ entry, known, onHistory }: { entry: AuditEntry; known: Names; onHistory: () => void }) {
  const name = entry.collection === 'files' ? entry.entity_id : known.get(entry.collection)?.get(entry.entity_id)
  const page = pageOf(entry.collection, entry.entity_id)
  return (
    <>
      <span class="sub">{NOUNS[entry.collection] ?? entry.collection}</span>{' '}
      {name !== undefined && page ? (
        <Link href={page}>{name || entry.entity_id}</Link>
      ) : (
        <code class="small" title={name === undefined ? 'no longer exists, or not readable with this key' : undefined}>
          {entry.entity_id}
        </code>
      )}{' '}
      <button type="button" class="link small" onClick={onHistory} aria-label={`All changes of ${name || entry.entity_id}`}>
        history
      </button>
    </>
  )
}

/**
 * The audit log (SPEC §10): who changed what, when; newest first. The filters live in the URL,
 * as on the executions page.
 */
export function Audit({ query }: { query: URLSearchParams }) {
  const collection = query.get('collection') ?? ''
  const actor = query.get('actor') ?? ''
  const entity = query.get('entity') ?? ''
  const offset = Number(query.get('offset') ?? 0)
  const names = useResource(entityNames, [])
  const entries = useResource<Listed<AuditEntry>>(() => {
    const filter: Record<string, string> = {}
    if (collection) filter.collection = collection
    if (actor) filter['actor.kind'] = actor
    if (entity) filter.entity_id = entity
    return list<AuditEntry>(PATHS.audit, {
      limit: PAGE,
      offset,
      ...(Object.keys(filter).length > 0 && { filter: JSON.stringify(filter) }),
    })
  }, [collection, actor, entity, offset])

  const filters = urlFilters('/audit', query)
  const setFilter = filters.set
  const known: Names = names.state === 'ready' ? names.data : new Map()

  return (
    <section>
      <div class="page-head">
        <h1>Audit log</h1>
        <button type="button" onClick={entries.reload}>
          Refresh
        </button>
      </div>
      <div class="filters">
        <Select
          label="Collection"
          value={collection}
          onChange={(value) => setFilter('collection', value)}
          options={COLLECTIONS}
        />
        <Select label="Who" value={actor} onChange={(value) => setFilter('actor', value)} options={ACTORS} />
        {entity && <FilterChip label="entity" value={entity} onClear={() => setFilter('entity', '')} />}
      </div>
      <Loaded resource={entries}>
        {({ items, total }) =>
          items.length === 0 ? (
            <Empty>No changes match. Every change made with an API key, a channel's token or a script is kept here.</Empty>
          ) : (
            <div class="table-wrap">
              <table class="stack">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Who</th>
                    <th scope="col">Change</th>
                    <th scope="col">What</th>
                    <th scope="col">Fields, before → after</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((entry) => (
                    <tr key={entry.id}>
                      <td class="nowrap">
                        <time dateTime={entry.ts} title={entry.ts}>
                          {new Date(entry.ts).toLocaleString()}
                        </time>
                      </td>
                      <td class="nowrap">
                        <Who actor={entry.actor} known={known} />
                      </td>
                      <td>
                        <span class={OPERATION_BADGE[entry.operation]}>{entry.operation}</span>
                      </td>
                      <td class="wrap">
                        <What entry={entry} known={known} onHistory={() => setFilter('entity', entry.entity_id)} />
                      </td>
                      <td class="small wrap" data-label="Fields">
                        <Changes entry={entry} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager offset={offset} shown={items.length} total={total} size={PAGE} onPage={filters.page} />
            </div>
          )
        }
      </Loaded>
    </section>
  )
}

const shown = (value: unknown) => (value === undefined ? '(not set)' : JSON.stringify(value))

/**
 * The changed fields with their values, before → after; a create shows only the fields that were
 * given a value (not the defaults it filled in as empty), and secrets never show a value.
 */
function Changes({ entry }: { entry: AuditEntry }) {
  if (!entry.changes) return <span class="mono">{entry.fields.join(', ') || '—'}</span>
  const changes =
    entry.operation === 'create'
      ? entry.changes.filter(
          (change) =>
            change.withheld ||
            !(change.after === '' || change.after === null || (Array.isArray(change.after) && change.after.length === 0)),
        )
      : entry.changes
  if (changes.length === 0) return <span>—</span>
  return (
    <ul class="changes">
      {changes.map((change) => (
        <li key={change.field}>
          <span class="mono">{change.field}</span>:{' '}
          {change.withheld === 'secret' ? (
            <span class="sub">changed (secret)</span>
          ) : change.withheld === 'long' ? (
            <span class="sub">changed (long value)</span>
          ) : entry.operation === 'create' ? (
            <span class="mono">{shown(change.after)}</span>
          ) : (
            <>
              <span class="mono">{shown(change.before)}</span> → <span class="mono">{shown(change.after)}</span>
            </>
          )}
        </li>
      ))}
    </ul>
  )
}
