import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import { type Access, type Authenticated, type Authenticator, DOMAIN_HEADER } from '../iam/authenticator.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Admin API routes name what they need; routes without it authenticate themselves (or not at all). */
    access?: Access
  }
  interface FastifyRequest {
    auth: Authenticated | null
  }
}

/**
 * Answers the principal of an in-process call (the websocket `rest` capability, `api.request`),
 * or undefined for every other request. It is the only way a request gets a principal without a
 * key; see project-api/in-process-api.ts for why nothing outside the process can reach it.
 */
export type InProcessPrincipal = (request: FastifyRequest) => Authenticated | undefined

/**
 * The path a permission is checked against: the route's own pattern with the request's
 * parameters put in (`/rest/v1/service/svcscripts/:id/run` → `…/svcscripts/<id>/run`). Built from
 * what the router matched, never from the raw URL, so no spelling of a URL reaches a route under
 * another path than the one it is checked as.
 */
function canonicalPath(url: string): (params: Record<string, string | undefined>) => string {
  const parts = url.split('/').map((segment) => (segment.startsWith(':') ? { param: segment.slice(1) } : { text: segment }))
  if (parts.every((part) => 'text' in part)) return () => url
  return (params) => parts.map((part) => ('text' in part ? part.text : (params[part.param] ?? ''))).join('/')
}

/**
 * Authenticates and authorises admin API requests before their bodies are read: the key (or an
 * in-process principal), then its rights on the route's method and path (SPEC §10). The hook is
 * attached at registration to each route that declares `config.access`, so other routes pay
 * nothing for it and no request reads `request.routeOptions` (which fastify builds anew on every
 * access); every route pays one header lookup for the in-process ticket.
 */
export function installAuthHook(app: FastifyInstance, authenticator: Authenticator, inProcess: InProcessPrincipal): void {
  app.decorateRequest('auth', null)
  // Every request, on every route (also /exec, /files, a 404): the ticket header of an in-process
  // call is taken away before any other hook, handler or record could see it.
  const internal = new WeakMap<FastifyRequest, Authenticated>()
  app.addHook('onRequest', (request, _reply, done) => {
    const principal = inProcess(request)
    if (principal) internal.set(request, principal)
    done()
  })
  app.addHook('onRoute', (route) => {
    const access = route.config?.access
    if (access === undefined) return
    const pathOf = canonicalPath(route.url)
    const authenticate: onRequestHookHandler = (request, _reply, done) => {
      try {
        const domain = request.headers[DOMAIN_HEADER]
        const principal = internal.get(request)
        // Master routes act on the global collections: no domain scope, as for a key.
        const auth = principal
          ? access === 'master'
            ? { ...principal, scope: null }
            : principal
          : authenticator.authenticate(request.headers.authorization, typeof domain === 'string' ? domain : undefined, access)
        authenticator.authorize(auth, access, request.method, pathOf(request.params as Record<string, string | undefined>))
        request.auth = auth
        done()
      } catch (error) {
        done(error as Error)
      }
    }
    const existing = route.onRequest
    route.onRequest =
      existing === undefined ? [authenticate] : [authenticate, ...(Array.isArray(existing) ? existing : [existing])]
  })
}

/** The authentication of a route that declared `config.access`. */
export function authOf(request: FastifyRequest): Authenticated {
  if (!request.auth) throw new Error(`route ${request.routeOptions.url} has no config.access`)
  return request.auth
}
