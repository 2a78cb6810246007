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
 * Authenticates admin API requests before their bodies are read. The hook is attached at
 * registration to each route that declares `config.access`, so other routes pay nothing and no
 * request reads `request.routeOptions` (which fastify builds anew on every access).
 */
export function installAuthHook(app: FastifyInstance, authenticator: Authenticator): void {
  app.decorateRequest('auth', null)
  app.addHook('onRoute', (route) => {
    const access = route.config?.access
    if (access === undefined) return
    const authenticate: onRequestHookHandler = (request, _reply, done) => {
      try {
        const domain = request.headers[DOMAIN_HEADER]
        request.auth = authenticator.authenticate(
          request.headers.authorization,
          typeof domain === 'string' ? domain : undefined,
          access,
        )
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
