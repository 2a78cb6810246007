import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, Timestamp, Uuid } from '../http/shared-schemas.ts'
import type { ConnectionCensus } from './connection-census.ts'

const ConnectionView = Type.Object(
  {
    id: Uuid,
    channel_id: Uuid,
    channel_code: Type.String(),
    ip: Type.String(),
    opened_at: Timestamp,
    node: Type.String({ description: 'the id of the node that holds the connection' }),
  },
  { additionalProperties: false, title: 'Connection' },
)

/**
 * `GET /rest/v1/service/connections`: the live websocket connections of the caller's domain, on
 * every node (an addition to SPEC: operators and the console watch them). No store read.
 */
export function connectionRoutes(app: FastifyInstance, { census }: { census: ConnectionCensus }): void {
  app.get(
    '/rest/v1/service/connections',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['connections'],
        operationId: 'listConnections',
        summary: 'Live websocket connections of this domain on every node, oldest first',
        querystring: Type.Object({ channel_id: Type.Optional(Uuid) }, { additionalProperties: false }),
        response: { 200: Type.Array(ConnectionView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { channel_id: channelId } = request.query as { channel_id?: string }
      return census.list(authOf(request).domain.id, channelId ?? null)
    },
  )
}
