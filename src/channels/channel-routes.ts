import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.ts'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, Link, Uuid } from '../http/shared-schemas.ts'
import type { Store } from '../store/store.ts'
import type { ChannelDirectory } from './channel-directory.ts'
import type { Licensing } from './licensing.ts'

const TokenCheck = Type.Object({
  domain: Type.String(),
  integration_point: Type.Object({ id: Uuid, _links: Link }),
})

const LicenseView = Type.Array(
  Type.Object({ type: Type.String(), limit: Type.Union([Type.Integer(), Type.Null()]), used: Type.Integer() }),
)

export interface ChannelRoutesDeps {
  readonly channels: ChannelDirectory
  readonly licensing: Licensing
  readonly store: Store
}

/** The token check (SPEC §3.3) and the licence view (SPEC §3.2). */
export function channelRoutes(app: FastifyInstance, { channels, licensing, store }: ChannelRoutesDeps): void {
  app.get(
    '/rest/v1/service/integration_tokens/:token',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['integration_points'],
        operationId: 'checkIntegrationToken',
        summary: 'Which channel of this domain a token belongs to',
        params: Type.Object({ token: Type.String({ maxLength: 256 }) }, { additionalProperties: false }),
        response: { 200: TokenCheck, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const entry = channels.byToken((request.params as { token: string }).token)
      if (!entry || entry.domainId !== auth.domain.id) throw new AppError('not_found', 'Token not found')
      const id = entry.channel.id
      return {
        domain: auth.domain.name,
        integration_point: { id, _links: { self: { href: `/rest/v1/service/integration_points/${id}` } } },
      }
    },
  )

  app.get(
    '/rest/v1/service/license',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['license'],
        operationId: 'getLicense',
        summary: 'Channel limits and use per type in this domain (limit null = unlimited)',
        response: { 200: LicenseView, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => licensing.view(store, authOf(request).domain.id),
  )
}
