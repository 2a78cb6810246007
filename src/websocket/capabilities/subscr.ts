import { AppError } from '../../errors.ts'
import type { EventDelivery } from '../../events/event-delivery.ts'
import { parseSubscribe } from '../../events/subscription.ts'
import type { FrameHandler, WsConnection } from '../ws-connection.ts'

export interface SubscrDeps {
  readonly delivery: EventDelivery<WsConnection>
  /** Collections whose changes are `modelevents` (the filter's `collection` values). */
  readonly collections: ReadonlySet<string>
  /** Whether the channel's token may see changes of `collection`: its rights (opts.roles, opts.userid) read it. */
  readonly mayRead: (connection: WsConnection, collection: string) => boolean
  /** Resolves when the bus has the node's subscriptions (cluster mode: the NATS server). */
  readonly flush: () => Promise<void>
}

const NEEDS_READ = ': give the channel (opts.roles) or its opts.userid user a role that may GET the collection'

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
            throw new AppError('forbidden', `the token's rights do not allow reading '${refused}'${NEEDS_READ}`)
          }
          if (!named && ![...deps.collections].some((collection) => deps.mayRead(connection, collection))) {
            throw new AppError('forbidden', `the token's rights do not allow reading any collection${NEEDS_READ}`)
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
