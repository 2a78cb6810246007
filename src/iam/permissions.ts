import { CAPABILITIES } from '../channels/channel-schemas.ts'

/** The verbs a permission may name (SPEC §10): HTTP methods, `LOOKUP`, `WEBSOCKET`, or `*` for all. */
export const PERMISSION_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'LOOKUP', 'WEBSOCKET', '*'] as const
type PermissionMethod = (typeof PERMISSION_METHODS)[number]

/** One grant of a role: a route pattern and the verbs allowed on it. */
export interface Permission {
  readonly route: string
  readonly methods: readonly PermissionMethod[]
}

/** What a caller may do in its domain. */
export interface Rights {
  /** Everything in the domain: the built-in `admin` role (or the root key). */
  readonly all: boolean
  /** The permissions these rights are made of (empty when `all`: nothing needs listing). */
  readonly permissions: readonly CompiledPermission[]
  /** Whether `method` on the REST path `path` (no query string) is allowed. */
  allows(method: string, path: string): boolean
  /** Whether the websocket capability `capability` is allowed (`/ws#<capability>`, WEBSOCKET). */
  allowsCapability(capability: string): boolean
}

export const ALL_RIGHTS: Rights = Object.freeze({ all: true, permissions: [], allows: () => true, allowsCapability: () => true })
export const NO_RIGHTS: Rights = Object.freeze({
  all: false,
  permissions: [],
  allows: () => false,
  allowsCapability: () => false,
})

const WS_PREFIX = '/ws#'
const MAX_ROUTE = 256
const SEGMENT = /^(?:\*|[A-Za-z0-9_.~:@!$&'()+,;=-]+)$/

/** A permission compiled once: a capability, or the segments of a REST pattern. */
export type CompiledPermission =
  | { readonly kind: 'capability'; readonly capability: string; readonly methods: ReadonlySet<string> }
  | { readonly kind: 'rest'; readonly segments: readonly string[]; readonly methods: ReadonlySet<string> }

/**
 * Why `route` is not a route pattern, or undefined. A pattern is a REST path whose segments are
 * names or `*`: a `*` in the middle matches one segment, a `*` at the end matches what follows,
 * any depth, and the path itself (`/rest/v1/service/*` covers `/rest/v1/service/svcscripts/<id>`).
 * Or a websocket capability: `/ws#svcscript`, … or `/ws#*`.
 */
export function routeProblem(route: string, methods: readonly string[]): string | undefined {
  if (route.length > MAX_ROUTE) return `must be at most ${MAX_ROUTE} characters`
  if (route.startsWith(WS_PREFIX)) {
    const capability = route.slice(WS_PREFIX.length)
    if (capability !== '*' && !(CAPABILITIES as readonly string[]).includes(capability)) {
      return `names no websocket capability: /ws#${[...CAPABILITIES, '*'].join(', /ws#')}`
    }
    if (methods.some((method) => method !== 'WEBSOCKET' && method !== '*'))
      return 'is a websocket capability: its methods are WEBSOCKET'
    return undefined
  }
  if (!route.startsWith('/')) return 'must be a path starting with / (or /ws#<capability>)'
  if (route !== '/' && route.endsWith('/')) return 'must not end with /'
  if (methods.includes('WEBSOCKET')) return 'is a REST path: WEBSOCKET applies to /ws#<capability> routes'
  const segments = route === '/' ? [] : route.slice(1).split('/')
  for (const segment of segments) {
    if (segment === '.' || segment === '..')
      return 'may not hold . or .. segments: a permission names the path it allows as written'
    if (!SEGMENT.test(segment)) {
      return segment.includes('*')
        ? 'may use * only as a whole segment'
        : `has an empty or invalid segment '${segment.slice(0, 32)}'`
    }
  }
  return undefined
}

export function compilePermission(permission: Permission): CompiledPermission {
  const methods = new Set<string>(permission.methods)
  if (permission.route.startsWith(WS_PREFIX)) {
    return { kind: 'capability', capability: permission.route.slice(WS_PREFIX.length), methods }
  }
  return { kind: 'rest', segments: permission.route === '/' ? [] : permission.route.slice(1).split('/'), methods }
}

function matches(pattern: readonly string[], path: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]
    if (part === '*' && i === pattern.length - 1) return path.length >= i
    if (i >= path.length) return false
    if (part !== '*' && part !== path[i]) return false
  }
  return pattern.length === path.length
}

function grants(permission: CompiledPermission & { kind: 'rest' }, method: string, segments: readonly string[]): boolean {
  return (permission.methods.has(method) || permission.methods.has('*')) && matches(permission.segments, segments)
}

/**
 * The rights of a set of compiled permissions. `HEAD` is `GET`. A lookup, `POST <collection>/lookup`
 * (Era's `LOOKUP <collection>`), is allowed by POST on that path, or by LOOKUP or GET on the
 * collection: it tells no more than a listing does.
 */
export function rightsOf(permissions: readonly CompiledPermission[]): Rights {
  if (permissions.length === 0) return NO_RIGHTS
  const rest = permissions.filter((p): p is CompiledPermission & { kind: 'rest' } => p.kind === 'rest')
  const capabilities = permissions.filter((p): p is CompiledPermission & { kind: 'capability' } => p.kind === 'capability')
  return {
    all: false,
    permissions,
    allows(rawMethod, path) {
      const method = rawMethod === 'HEAD' ? 'GET' : rawMethod
      if (!path.startsWith('/')) return false
      const segments = path === '/' ? [] : path.slice(1).split('/')
      if (rest.some((permission) => grants(permission, method, segments))) return true
      if (method === 'POST' && segments.at(-1) === 'lookup') {
        const collection = segments.slice(0, -1)
        return rest.some((permission) => grants(permission, 'LOOKUP', collection) || grants(permission, 'GET', collection))
      }
      return false
    },
    allowsCapability(capability) {
      return capabilities.some(
        (permission) =>
          (permission.capability === '*' || permission.capability === capability) &&
          (permission.methods.has('WEBSOCKET') || permission.methods.has('*')),
      )
    },
  }
}

/** The verbs a REST permission grants one by one; `*` stands for all of them. */
const REST_VERBS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'LOOKUP'] as const

/** Whether every path `inner` matches, `outer` matches too (both compiled REST patterns). */
function patternCovers(outer: readonly string[], inner: readonly string[]): boolean {
  for (let i = 0; i < outer.length; i++) {
    const part = outer[i]
    // A trailing * takes the path itself and everything below: inner must not match shorter paths.
    if (part === '*' && i === outer.length - 1) return inner.length - (inner.at(-1) === '*' ? 1 : 0) >= i
    const other = inner[i]
    // inner's own trailing * may match nothing here, or more than one segment.
    if (other === undefined || (other === '*' && i === inner.length - 1)) return false
    if (part !== '*' && part !== other) return false
  }
  return inner.length === outer.length
}

function verbsOf(methods: ReadonlySet<string>): readonly string[] {
  return methods.has('*') ? REST_VERBS : [...methods]
}

function holderGrants(permission: CompiledPermission & { kind: 'rest' }, verb: string): boolean {
  const { methods } = permission
  return methods.has(verb) || methods.has('*') || (verb === 'LOOKUP' && methods.has('GET'))
}

/**
 * The first part of `granted` that `holder` does not have (`GET /rest/v1/iam/*`, `/ws#rest`,
 * `admin: everything in the domain`), or undefined when `holder` has all of it. Granting rights — a role to a
 * user or a channel, a user to a channel, an API key for a user, a permission to a role, a
 * channel token to whoever chose it — is allowed only within the granter's own (docs/iam.md).
 * Checked permission by permission and verb by verb, so it never assumes more than the holder has.
 */
export function beyond(holder: Rights, granted: Rights): string | undefined {
  if (holder.all) return undefined
  if (granted.all) return 'admin: everything in the domain'
  const rest = holder.permissions.filter((p): p is CompiledPermission & { kind: 'rest' } => p.kind === 'rest')
  for (const permission of granted.permissions) {
    if (permission.kind === 'capability') {
      // allowsCapability('*') holds only for a holder of /ws#* itself.
      if (!holder.allowsCapability(permission.capability)) return `/ws#${permission.capability}`
      continue
    }
    for (const verb of verbsOf(permission.methods)) {
      if (!rest.some((own) => holderGrants(own, verb) && patternCovers(own.segments, permission.segments))) {
        return `${verb} /${permission.segments.join('/')}`
      }
    }
  }
  return undefined
}
