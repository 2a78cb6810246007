import { type Static, Type } from '@sinclair/typebox'
import { Timestamp, Uuid } from '../http/shared-schemas.ts'

const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'] as const

export const DeliveryAttempt = Type.Object(
  {
    at: Timestamp,
    status_code: Type.Union([Type.Integer(), Type.Null()], { description: 'the receiver’s status; null: no answer' }),
    duration_ms: Type.Number(),
    error: Type.Union([Type.String(), Type.Null()], { description: 'why it failed, in words; null on success' }),
    response_excerpt: Type.Union([Type.String(), Type.Null()], { description: 'the first 1 KiB of the receiver’s answer' }),
  },
  { additionalProperties: false },
)
export type DeliveryAttempt = Static<typeof DeliveryAttempt>

/** A delivery as the collection shows it (docs/deliveries.md). */
export const Delivery = Type.Object(
  {
    id: Uuid,
    channel_id: Uuid,
    event_type: Type.Union([Type.String(), Type.Null()]),
    payload: Type.Unknown({ description: 'the JSON sent; over 64 KiB: {truncated: true, size, preview}' }),
    status: Type.Union(DELIVERY_STATUSES.map((status) => Type.Literal(status))),
    attempts: Type.Array(DeliveryAttempt),
    next_attempt_at: Type.Union([Timestamp, Type.Null()], { description: 'when the next attempt is due; null once it ended' }),
    created_at: Timestamp,
    /** The client's idempotency id, if it gave one. */
    idempotency_id: Type.Union([Type.String(), Type.Null()]),
    /** Bumped by every retry: a job of an older generation is stale. */
    generation: Type.Integer(),
  },
  { additionalProperties: false, title: 'Delivery' },
)
export type Delivery = Static<typeof Delivery>

/** `POST …/integration_points/<id>/deliver`. */
export const DeliverBody = Type.Object(
  {
    payload: Type.Unknown({ description: 'any JSON: the body of the POST to the channel’s url' }),
    event_type: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'makes the call idempotent: the same id on the same channel returns the existing delivery',
      }),
    ),
  },
  { additionalProperties: false, required: ['payload'] },
)
export type DeliverBody = Static<typeof DeliverBody>

export const DeliveryAccepted = Type.Object({ delivery_id: Uuid })

/** `POST …/deliveries/retry`: which deliveries (failed or pending ones among them) to make due now. */
export const BulkRetryBody = Type.Object(
  {
    filter: Type.Object(
      {
        channel_id: Type.Optional(Uuid),
        status: Type.Optional(Type.Union([Type.Literal('failed'), Type.Literal('pending')])),
        event_type: Type.Optional(Type.String({ maxLength: 128 })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
