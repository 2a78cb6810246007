import type { JsonValue } from '../store/store.ts'
import type { Topic } from './topic.ts'

/**
 * Messages between the parts of a node and, in cluster mode, between nodes.
 *
 * Subjects are dot-separated tokens; a subscription may use `*` (one token) and `>` (the rest).
 * Guarantees, for every implementation:
 * - delivery is asynchronous: a handler never runs inside `publish`;
 * - at most once per subscription (a lost connection may lose messages: callers that need more
 *   use the queue engine);
 * - messages of one subject from one publisher arrive in publish order;
 * - subscriptions that share a `group` split the messages that match them: each goes to one
 *   member, also when it matches the subjects of several members (NATS queue groups do this);
 * - a message is a copy: the receiver never shares an object with the sender;
 * - every message a subscription gets fits its topic (topic.ts): one that does not is dropped
 *   and reported (`onMalformed` of the implementation), never handed to the handler.
 */
export interface Bus {
  publish<T>(topic: Topic<T>, subject: string, message: T): void
  subscribe<T>(topic: Topic<T>, subject: string, handler: BusHandler<T>, options?: SubscribeOptions): BusSubscription
  /** Resolves when everything published so far has left this node. */
  flush(): Promise<void>
  close(): Promise<void>
}

export type BusHandler<T = JsonValue> = (message: T, subject: string) => void

/** Told of a message that did not fit its subscription's topic (counted, then dropped). */
export type MalformedHandler = (topic: string, subject: string) => void

export interface SubscribeOptions {
  /** Queue group: each message of the subject goes to one member of the group. Default: none. */
  readonly group?: string
}

export interface BusSubscription {
  unsubscribe(): void
}
