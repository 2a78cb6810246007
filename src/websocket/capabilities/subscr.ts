import { AppError } from '../../errors.ts'
import type { EventDelivery } from '../../events/event-delivery.ts'
import { parseSubscribe } from '../../events/subscription.ts'
import type { FrameHandler, WsConnection } from '../ws-connection.ts'

export interface SubscrDeps {
  readonly delivery: EventDelivery<WsConnection>
  /** Collections whose changes are `modelevents` (the filter's `collection` values). */
  readonly collections: ReadonlySet<string>
  /** Whether the channel may see changes of `collection` (its `opts.userid` may read it). */
  readonly mayRead: (connection: WsConnection, collection: string) => boolean
  /** Resolves when the bus has the node's subscriptions (cluster mode: the NATS server). */
  readonly flush: () => Promise<void>
}

/**
 * The `subscr` capability (SPEC §8): `subscribe` adds, renews or (`expires: 0`) removes a
 * subscription of the connection; events then arrive as `["event", {…, subscriptions}]`. The
 * answer comes when the subscription is in force on the bus, cluster-wide.
 */
export function subscrCapability(deps: SubscrDeps): Record<string, FrameHandler> {
  return {
    subscribe: {
      capability: 'subscr',
      async handle(connection, payload, qid) {
        const request = parseSubscribe(payload, deps.collections)
        if (request.patterns.some((pattern) => pattern.class === 'modelevents')) {
          const named = request.objects?.collections
          const refused = named?.find((collection) => !deps.mayRead(connection, collection))
          if (refused !== undefined) {
            throw new AppError('forbidden', `the channel's user may not read '${refused}' (opts.userid needs read permission)`)
          }
          if (!named && ![...deps.collections].some((collection) => deps.mayRead(connection, collection))) {
            throw new AppError('forbidden', "the channel's user may not read any collection (opts.userid needs read permission)")
          }
        }
        const { id, expires } = deps.delivery.subscribe(connection, request)
        // Answered when events can flow: a client that emits right after its answer hears it.
        await deps.flush()
        if (qid !== undefined) connection.send('subscribe_result', { qid, result: 'ok', id, expires })
      },
    },
  }
}
