import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { ChannelDirectory } from '../channels/channel-directory.ts'
import type { CollectionService } from '../collections/collection-service.ts'
import { AppError } from '../errors.ts'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, IdParams } from '../http/shared-schemas.ts'
import type { Deliveries } from './deliveries.ts'
import { BulkRetryBody, DeliverBody, DeliveryAccepted, Delivery as DeliverySchema } from './delivery-schemas.ts'

export interface DeliveryRoutesDeps {
  readonly deliveries: Deliveries
  readonly collection: CollectionService
  readonly channels: ChannelDirectory
}

const tags = ['deliveries']

/**
 * Outbound deliveries from outside (docs/deliveries.md): `POST …/integration_points/<id>/deliver`
 * starts one; `…/deliveries/<id>/retry`, `…/deliveries/retry` and `…/deliveries/<id>/cancel`
 * act on them. The collection itself is read through the generic routes.
 */
export function deliveryRoutes(app: FastifyInstance, { deliveries, collection, channels }: DeliveryRoutesDeps): void {
  app.post(
    '/rest/v1/service/integration_points/:id/deliver',
    {
      config: { access: 'domain' },
      schema: {
        tags,
        operationId: 'deliverEvent',
        summary: "Deliver an event to the channel's url: signed, stored durably, retried; answers the delivery's id",
        params: IdParams,
        body: DeliverBody,
        response: { 200: DeliveryAccepted, ...errorResponses(400, 401, 403, 404, 413) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const { id } = request.params as { id: string }
      const entry = channels.byId(id)
      if (!entry || entry.domainId !== auth.domain.id) throw new AppError('not_found', `integration point '${id}' does not exist`)
      const body = request.body as DeliverBody
      const deliveryId = await deliveries.deliver(auth.domain.id, entry.channel, {
        payload: body.payload,
        eventType: body.event_type,
        id: body.id,
      })
      return { delivery_id: deliveryId }
    },
  )

  app.post(
    '/rest/v1/service/deliveries/:id/retry',
    {
      config: { access: 'domain' },
      schema: {
        tags,
        operationId: 'retryDelivery',
        summary: 'Make a failed or pending delivery due now',
        params: IdParams,
        response: { 200: DeliverySchema, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const delivery = await deliveries.retry(auth.domain.id, (request.params as { id: string }).id)
      return collection.view(delivery, auth)
    },
  )

  app.post(
    '/rest/v1/service/deliveries/retry',
    {
      config: { access: 'domain' },
      schema: {
        tags,
        operationId: 'retryDeliveries',
        summary: 'Make every failed or pending delivery the filter matches due now (at most 1000 a call)',
        body: BulkRetryBody,
        response: { 200: Type.Object({ retried: Type.Integer() }), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const { filter } = request.body as { filter: Record<string, string> }
      return { retried: await deliveries.retryMany(auth.domain.id, filter) }
    },
  )

  app.post(
    '/rest/v1/service/deliveries/:id/cancel',
    {
      config: { access: 'domain' },
      schema: {
        tags,
        operationId: 'cancelDelivery',
        summary: 'Stop a pending delivery: no more attempts',
        params: IdParams,
        response: { 200: DeliverySchema, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const delivery = await deliveries.cancel(auth.domain.id, (request.params as { id: string }).id)
      return collection.view(delivery, auth)
    },
  )
}
