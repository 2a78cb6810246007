import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, Timestamp, Uuid } from '../http/shared-schemas.ts'
import type { ConnectionRegistry } from './connection-registry.ts'

const ConnectionView = Type.Object(
  {
    id: Uuid,
    channel_id: Uuid,
    channel_code: Type.String(),
    ip: Type.String(),
    opened_at: Timestamp,
  },
  { additionalProperties: false, title: 'Connection' },
)

/**
 * `GET /rest/v1/service/connections`: the live websocket connections of the caller's domain on
 * this node (an addition to SPEC: operators and the console watch them). Read from the
 * registry, no store read.
 */
export function connectionRoutes(app: FastifyInstance, { registry }: { registry: ConnectionRegistry }): void {
  app.get(
    '/rest/v1/service/connections',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['connections'],
        summary: 'Live websocket connections of this domain on this node, oldest first',
        querystring: Type.Object({ channel_id: Type.Optional(Uuid) }, { additionalProperties: false }),
        response: { 200: Type.Array(ConnectionView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const domainId = authOf(request).domain.id
      const { channel_id: channelId } = request.query as { channel_id?: string }
      const found = channelId === undefined ? [...registry.all()] : registry.ofChannel(channelId)
      return found
        .filter((connection) => connection.domainId === domainId)
        .map((connection) => ({
          id: connection.id,
          channel_id: connection.channelId,
          channel_code: connection.channel.code,
          ip: connection.ip,
          opened_at: connection.openedAt.toISOString(),
        }))
    },
  )
}
