import type { WebSocket } from 'ws'
import type { Channel } from '../channels/channel-schemas.ts'
import { type ErrorBody, errorBody } from '../errors.ts'
import { toHttpError } from '../http/error-handler.ts'
import { newId } from '../ids.ts'
import type { Logger } from '../logger.ts'
import type { Series } from '../metrics/metric-families.ts'
import type { JsonValue } from '../store/store.ts'
import type { TraceCarrier } from '../tracing/tracing.ts'
import type { CapabilityGate } from './capability-gate.ts'
import { type Frame, parseFrame, qidOf } from './ws-frames.ts'

/** What became of a sync push: the client's answer, or why there is none. */
export type ReplyOutcome = { readonly payload: JsonValue } | { readonly error: string }

/** One kind of request frame: its handler, and how its errors are answered. */
export interface FrameHandler {
  /** The capability that allows it (SPEC §6.4), or undefined for the base protocol. */
  readonly capability?: string
  handle(connection: WsConnection, payload: Record<string, unknown>, qid: string | number | undefined): Promise<void> | void
  /** The answer's payload for an error (`message_result` says `success: false`, others `result: "error"`). */
  errorAnswer?(qid: string | number | undefined, error: ErrorBody): Record<string, unknown>
}

/** What a connection is opened with, by the upgrade. */
export interface ConnectionOptions {
  readonly entry: { readonly domainId: string; readonly channel: Channel }
  /** The token the client presented. */
  readonly token: string
  readonly ip: string
  /** The upgrade request's id: the connection's executions carry it. */
  readonly requestId: string
  /** The upgrade request's trace context, if it sent one: its frames' spans link it. */
  readonly trace?: TraceCarrier | undefined
  readonly handlers: ReadonlyMap<string, FrameHandler>
  /** Which capabilities the channel's token may use (its filter and its rights). */
  readonly gate: CapabilityGate
  readonly limits: ConnectionLimits
  /** Frames received and sent, counted. */
  readonly frames: { readonly in: Series; readonly out: Series }
  /** The server started closing it (rotation, shutdown, slow reader): its closing handshake may take a while. */
  readonly onClosing: (connection: WsConnection) => void
  /** Where a handler's unexpected error goes (the client gets only 1500): logged at error, and counted. */
  readonly logger: Logger
  readonly failures: Series
}

export interface ConnectionLimits {
  /** Requests handled at once; more are answered 1429. */
  readonly maxInFlight: number
  /** Bytes waiting to be sent to a slow client before it is closed (1013). */
  readonly maxBufferedBytes: number
}

/**
 * One Token API connection (SPEC §6): frames in, answers and pushes out. Requests run
 * concurrently and are answered as they finish, matched by `qid`; a bad frame gets an error frame
 * and the connection stays.
 */
export class WsConnection {
  readonly id = newId()
  readonly domainId: string
  readonly channelId: string
  readonly ip: string
  /** The token the client presented: the connection ends when the channel's changes. */
  readonly token: string
  readonly requestId: string
  readonly trace: TraceCarrier | undefined
  readonly openedAt = new Date()
  #channel: Channel
  readonly #socket: WebSocket
  readonly #handlers: ReadonlyMap<string, FrameHandler>
  readonly #gate: CapabilityGate
  readonly #limits: ConnectionLimits
  readonly #onClosing: (connection: WsConnection) => void
  readonly #logger: Logger
  readonly #failures: Series
  readonly #framesIn: Series
  readonly #framesOut: Series
  #inFlight = 0
  /** Sync pushes waiting for the client's `<name>_result`, by qid. */
  readonly #replies = new Map<string, { name: string; timer: NodeJS.Timeout; done: (outcome: ReplyOutcome) => void }>()
  /** Cleared by each heartbeat, set by the pong. */
  alive = true

  constructor(socket: WebSocket, options: ConnectionOptions) {
    this.#socket = socket
    this.domainId = options.entry.domainId
    this.#channel = options.entry.channel
    this.channelId = options.entry.channel.id
    this.token = options.token
    this.ip = options.ip
    this.requestId = options.requestId
    this.trace = options.trace
    this.#handlers = options.handlers
    this.#gate = options.gate
    this.#limits = options.limits
    this.#framesIn = options.frames.in
    this.#framesOut = options.frames.out
    this.#onClosing = options.onClosing
    this.#logger = options.logger
    this.#failures = options.failures
  }

  /** The channel as it is now (kept current by the server). */
  get channel(): Channel {
    return this.#channel
  }

  set channel(channel: Channel) {
    this.#channel = channel
  }

  get open(): boolean {
    return this.#socket.readyState === this.#socket.OPEN
  }

  /** Why the token may not use `capability` now (capability-gate.ts), or undefined when it may. */
  refusal(capability: string): string | undefined {
    return this.#gate.refusal(this.domainId, this.#channel, capability)
  }

  /** The capabilities the token may use now, by name. */
  capabilities(): string[] {
    return this.#gate.usable(this.domainId, this.#channel)
  }

  /** Sends `[name, payload]`; a client that does not read is closed instead of buffered without end. */
  send(name: string, payload: unknown): void {
    this.sendFrame(JSON.stringify([name, payload]))
  }

  /** Sends a frame already serialised (events: one text for many connections). */
  sendFrame(frame: string): void {
    if (!this.open) return
    if (this.#socket.bufferedAmount > this.#limits.maxBufferedBytes) {
      this.close(1013, 'the client does not read its messages fast enough')
      return
    }
    this.#socket.send(frame)
    this.#framesOut.value++
  }

  /** Bytes sent but not yet taken by the network: what a slow reader has left waiting. */
  get bufferedBytes(): number {
    return this.#socket.bufferedAmount
  }

  /** Waits for the client's `[name, {qid, …}]` answer to a push; times out, or fails on close. */
  awaitReply(qid: string, name: string, timeoutMs: number, done: (outcome: ReplyOutcome) => void): void {
    const timer = setTimeout(() => {
      this.#replies.delete(qid)
      done({ error: `no ${name} within ${timeoutMs} ms` })
    }, timeoutMs)
    this.#replies.set(qid, { name, timer, done })
  }

  /** The connection ended: pushes waiting for an answer fail. */
  closed(): void {
    for (const [qid, waiting] of this.#replies) {
      clearTimeout(waiting.timer)
      this.#replies.delete(qid)
      waiting.done({ error: 'the connection closed before it answered' })
    }
  }

  ping(): void {
    if (this.open) this.#socket.ping()
  }

  /** Drops the connection without a closing handshake (a dead peer). */
  terminate(): void {
    this.#socket.terminate()
  }

  close(code: number, reason: string): void {
    if (this.#socket.readyState === this.#socket.CLOSED || this.#socket.readyState === this.#socket.CLOSING) return
    this.#socket.close(code, reason)
    this.#onClosing(this)
  }

  /** Handles one frame from the client. */
  receive(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    this.#framesIn.value++
    if (isBinary) {
      this.#error(400, 'binary frames are not accepted: send JSON text frames [name, payload]')
      return
    }
    // ws hands over a Buffer (one fragment) unless asked otherwise: read it without a copy.
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8')
    const frame = parseFrame(text)
    if (typeof frame === 'string') {
      this.#error(400, frame)
      return
    }
    this.#dispatch(frame)
  }

  #dispatch({ name, payload }: Frame): void {
    const qid = qidOf(payload)
    if (qid === null) {
      // Answered by an error frame without the qid: it could not be matched by it anyway.
      this.#error(400, `the qid of '${name.slice(0, 64)}' must be a string or a number`)
      return
    }
    const waiting = typeof qid === 'string' ? this.#replies.get(qid) : undefined
    if (waiting && waiting.name === name) {
      this.#replies.delete(qid as string)
      clearTimeout(waiting.timer)
      waiting.done({ payload: payload as JsonValue })
      return
    }
    const handler = this.#handlers.get(name)
    if (!handler) {
      this.#error(400, `unknown frame '${name.slice(0, 64)}'`, qid)
      return
    }
    const refused = handler.capability === undefined ? undefined : this.refusal(handler.capability)
    if (refused !== undefined) {
      this.#answerError(name, handler, qid, errorBody(403, refused))
      return
    }
    if (this.#inFlight >= this.#limits.maxInFlight) {
      this.#answerError(
        name,
        handler,
        qid,
        errorBody(429, `more than ${this.#limits.maxInFlight} requests in flight on this connection`),
      )
      return
    }
    this.#inFlight++
    let running: Promise<void> | void
    try {
      running = handler.handle(this, payload, qid)
    } catch (error) {
      this.#inFlight--
      this.#failed(name, handler, qid, error)
      return
    }
    if (!running) {
      this.#inFlight--
      return
    }
    running.then(
      () => {
        this.#inFlight--
      },
      (error: unknown) => {
        this.#inFlight--
        this.#failed(name, handler, qid, error)
      },
    )
  }

  /**
   * A handler threw: an AppError answers its code and message (as over HTTP); anything else is
   * our bug, answered 1500 while the details go to the log. Server errors are logged and counted,
   * as HTTP logs its 5xx.
   */
  #failed(name: string, handler: FrameHandler, qid: string | number | undefined, error: unknown): void {
    const { status, body } = toHttpError(error)
    if (status >= 500) {
      this.#failures.value++
      this.#logger.error(
        { err: error, reqId: this.requestId, connection_id: this.id, channel_id: this.channelId, frame: name },
        'websocket request failed',
      )
    }
    this.#answerError(name, handler, qid, body)
  }

  #answerError(name: string, handler: FrameHandler, qid: string | number | undefined, error: ErrorBody): void {
    if (qid === undefined) {
      this.send('error', error)
      return
    }
    this.send(`${name}_result`, handler.errorAnswer?.(qid, error) ?? { qid, result: 'error', ...error })
  }

  #error(status: number, message: string, qid?: string | number): void {
    this.send('error', { ...(qid !== undefined && { qid }), ...errorBody(status, message) })
  }
}
