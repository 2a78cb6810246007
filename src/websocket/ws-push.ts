import { Type } from '@sinclair/typebox'
import type { Bus, BusSubscription } from '../bus/bus.ts'
import { type MessageOf, topic } from '../bus/topic.ts'
import type { ChannelDirectory } from '../channels/channel-directory.ts'
import { channelForScripts } from '../channels/channel-runtime.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { DEFAULT_TIMEOUT_MS, MAX_CHAIN_DEPTH } from '../scripts/run-limits.ts'
import type { ScriptDirectory } from '../scripts/script-directory.ts'
import type { ScriptExecutor } from '../scripts/script-executor.ts'
import type { JsonValue } from '../store/store.ts'
import type { ConnectionRegistry } from './connection-registry.ts'
import type { WsConnection } from './ws-connection.ts'

export interface WsPushDeps {
  readonly bus: Bus
  readonly registry: ConnectionRegistry
  readonly channels: ChannelDirectory
  readonly scripts: ScriptDirectory
  readonly executor: () => ScriptExecutor
  /** This node's id: replies to sync pushes come back on its own subject. */
  readonly nodeId: string
  readonly onError: (error: unknown) => void
}

const Json = Type.Unsafe<JsonValue>(Type.Unknown())
const NullableString = Type.Union([Type.String(), Type.Null()])

/** A push as it travels on the bus to the node(s) holding its connections. */
const PUSH = topic(
  'ws.push',
  Type.Object({
    domainId: Type.String(),
    connectionId: NullableString,
    channelId: NullableString,
    name: Type.String(),
    data: Json,
    /** Sync pushes: the qid added to the data, and the node waiting for the answer. */
    qid: NullableString,
    replyTo: NullableString,
    timeoutMs: Type.Number(),
    /** The request behind the execution that pushed: a reshaping script's run carries it on. */
    requestId: NullableString,
    /** How many executions led to the push (`MAX_CHAIN_DEPTH`): a reshaping script runs one deeper. */
    depth: Type.Integer(),
  }),
)
type PushMessage = MessageOf<typeof PUSH>
type Reply = MessageOf<typeof REPLY>

/** The answer of a sync push's client, back to the node that waits. */
const REPLY = topic(
  'ws.reply',
  Type.Union([Type.Object({ qid: Type.String(), payload: Json }), Type.Object({ qid: Type.String(), error: Type.String() })]),
)

export interface PushOptions {
  readonly sync: boolean
  readonly timeoutMs: number
  readonly requestId: string | null
  /** The pushing execution's depth (0 for a trigger's). */
  readonly depth: number
}

/**
 * Pushes from scripts to websocket clients (SPEC §7, `ws.send`). A push travels on the bus
 * (`ws.push`): every node delivers it to its own matching connections, so a connection on another
 * node is reached the same way once the bus is NATS. A channel's `send_svcscriptcode_ws` may
 * reshape or drop each message first. A sync push adds a `qid`, and the client's
 * `<name>_result` with it travels back to the waiting node (`ws.reply.<node>`).
 */
export class WsPush {
  readonly #deps: WsPushDeps
  readonly #waiting = new Map<string, { resolve: (payload: JsonValue) => void; reject: (error: Error) => void }>()
  readonly #subscriptions: BusSubscription[]

  constructor(deps: WsPushDeps) {
    this.#deps = deps
    this.#subscriptions = [
      deps.bus.subscribe(PUSH, 'ws.push', (message) => {
        this.#deliver(message).catch(deps.onError)
      }),
      deps.bus.subscribe(REPLY, `ws.reply.${deps.nodeId}`, (reply) => this.#replied(reply)),
    ]
  }

  /** Stops taking pushes; pushes waiting for an answer fail at once. Idempotent. */
  async close(): Promise<void> {
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe()
    for (const [qid, waiting] of [...this.#waiting]) {
      this.#waiting.delete(qid)
      waiting.reject(new AppError('unavailable', 'ws.send: the server is shutting down'))
    }
  }

  /** Sends `[name, data]`; with `sync`, resolves with the client's answer. */
  send(domainId: string, target: unknown, name: unknown, data: unknown, options: PushOptions): Promise<JsonValue | null> {
    if (typeof name !== 'string' || name === '' || name.length > 128)
      throw new AppError('bad_request', 'ws.send: name must be a non-empty string')
    let connectionId: string | null = null
    let channelId: string | null = null
    if (typeof target === 'string') connectionId = target
    else if (target !== null && typeof target === 'object' && typeof (target as { channel?: unknown }).channel === 'string') {
      const code = (target as { channel: string }).channel
      const entry = this.#deps.channels.byCode(domainId, code)
      if (!entry) throw new AppError('not_found', `ws.send: no channel '${code}' in this domain`)
      channelId = entry.channel.id
    } else {
      throw new AppError('bad_request', 'ws.send: target must be a connection id or {channel: "<code>"}')
    }
    if (options.sync && connectionId === null)
      throw new AppError('bad_request', 'ws.send: sync needs one connection id as target')
    if (options.sync && (data === null || typeof data !== 'object' || Array.isArray(data))) {
      throw new AppError('bad_request', 'ws.send: a sync message needs an object as data (its qid is added to it)')
    }
    const qid = options.sync ? newId() : null
    const message: PushMessage = {
      domainId,
      connectionId,
      channelId,
      name,
      data: (data ?? null) as JsonValue,
      qid,
      replyTo: qid === null ? null : this.#deps.nodeId,
      timeoutMs: options.timeoutMs,
      requestId: options.requestId,
      depth: options.depth,
    }
    if (qid === null) {
      this.#deps.bus.publish(PUSH, 'ws.push', message)
      return Promise.resolve(null)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(qid)
        reject(new AppError('script_timeout', `ws.send: no ${name}_result within ${options.timeoutMs} ms`))
      }, options.timeoutMs)
      this.#waiting.set(qid, {
        resolve: (payload) => {
          clearTimeout(timer)
          resolve(payload)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
      this.#deps.bus.publish(PUSH, 'ws.push', message)
    })
  }

  #replied(reply: Reply): void {
    const waiting = this.#waiting.get(reply.qid)
    if (!waiting) return
    this.#waiting.delete(reply.qid)
    if ('error' in reply) waiting.reject(new AppError('unavailable', `ws.send: ${reply.error}`))
    else waiting.resolve(reply.payload)
  }

  async #deliver(message: PushMessage): Promise<void> {
    const { registry } = this.#deps
    let targets: readonly WsConnection[] = []
    if (message.connectionId !== null) {
      const connection = registry.byId(message.connectionId)
      if (connection && connection.domainId === message.domainId) targets = [connection]
    } else if (message.channelId !== null) {
      targets = registry.ofChannel(message.channelId)
    }
    for (const connection of targets) {
      try {
        await this.#deliverTo(connection, message)
      } catch (error) {
        this.#answer(message, { error: error instanceof Error ? error.message : String(error) })
      }
    }
  }

  async #deliverTo(connection: WsConnection, message: PushMessage): Promise<void> {
    let { name, data } = message
    const reshaped = await this.#transform(connection, name, data, message)
    if (reshaped === 'drop') {
      this.#answer(message, { error: 'the channel dropped the message' })
      return
    }
    ;({ name, data } = reshaped)
    if (message.qid === null) {
      connection.send(name, data)
      return
    }
    const qid = message.qid
    // The reshaping script may have outlived the connection: fail now, not at the timeout.
    if (!connection.open) throw new Error('the connection closed before the push reached it')
    const payload = { ...(data as Record<string, JsonValue>), qid }
    connection.awaitReply(qid, `${name}_result`, message.timeoutMs, (outcome) => this.#answer(message, outcome))
    connection.send(name, payload)
  }

  /** Runs the channel's `send_svcscriptcode_ws`, if it has one: it may rename, replace or drop. */
  async #transform(
    connection: WsConnection,
    name: string,
    data: JsonValue,
    message: PushMessage,
  ): Promise<{ name: string; data: JsonValue } | 'drop'> {
    const channel = connection.channel
    const code = channel.send_svcscriptcode_ws
    if (code === '') return { name, data }
    const script = this.#deps.scripts.byCode(connection.domainId, code)
    if (!script) throw new Error(`the channel's send_svcscriptcode_ws '${code}' does not exist`)
    // A reshaping script that pushes again (to its own channel, say) must end, not loop.
    if (message.depth >= MAX_CHAIN_DEPTH) {
      throw new Error(`more than ${MAX_CHAIN_DEPTH} executions in one chain: send_svcscriptcode_ws '${code}' was not run`)
    }
    const result = await this.#deps.executor().execute({
      domainId: connection.domainId,
      script,
      trigger: 'send',
      channel,
      startparams: [channelForScripts(channel), { name, data }, connection.id],
      timeoutMs: DEFAULT_TIMEOUT_MS,
      requestId: message.requestId,
      depth: message.depth + 1,
    })
    if (result.status !== 'ok') throw new Error(`the channel's send_svcscriptcode_ws failed (execution ${result.id})`)
    const vars = result.output
    if (vars.drop === true) return 'drop'
    return {
      name: typeof vars.name === 'string' && vars.name !== '' ? vars.name : name,
      data: vars.result === undefined ? data : (vars.result as JsonValue),
    }
  }

  #answer(message: PushMessage, outcome: { payload: JsonValue } | { error: string }): void {
    if (message.qid === null || message.replyTo === null) return
    try {
      this.#deps.bus.publish(REPLY, `ws.reply.${message.replyTo}`, { qid: message.qid, ...outcome })
    } catch (error) {
      // The bus closed while a reshaping script ran: the waiting script ends at its timeout.
      this.#deps.onError(error)
    }
  }
}
