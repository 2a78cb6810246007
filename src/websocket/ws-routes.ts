import websocket from '@fastify/websocket'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { ChannelAccess } from '../channels/channel-access.ts'
import type { ChannelDirectory, ChannelEntry } from '../channels/channel-directory.ts'
import { AppError } from '../errors.ts'
import { bearerToken } from '../http/bearer-token.ts'
import { sendError } from '../http/error-handler.ts'
import { sameSecret } from '../ids.ts'
import type { Logger } from '../logger.ts'
import type { Series } from '../metrics/metric-families.ts'
import type { WsMetrics } from '../metrics/ws-metrics.ts'
import type { IpRanges } from '../net/ip-ranges.ts'
import { carrierOfHeaders, type Tracing } from '../tracing/tracing.ts'
import { senderIp } from '../webhooks/sender-ip.ts'
import type { CapabilityGate } from './capability-gate.ts'
import type { ConnectionRegistry } from './connection-registry.ts'
import { type ConnectionLimits, type FrameHandler, WsConnection } from './ws-connection.ts'

export interface WsRoutesOptions {
  readonly access: ChannelAccess
  readonly channels: ChannelDirectory
  readonly registry: ConnectionRegistry
  readonly handlers: ReadonlyMap<string, FrameHandler>
  /** Which capabilities a connection's token may use. */
  readonly gate: CapabilityGate
  readonly trustProxy: IpRanges
  /** With tracing on: an upgrade's trace context is kept, for its frames' spans to link. */
  readonly tracing?: Tracing | undefined
  /** Told of every connection that opens and closes (events, subscriptions). */
  readonly lifecycle: ConnectionLifecycle
  readonly metrics: WsMetrics
  /** Handlers' unexpected errors (answered 1500) and clients' protocol errors are logged here. */
  readonly logger: Logger
  /** Counts handlers' unexpected errors (`switchboard_errors_total{source="ws_handler"}`). */
  readonly failures: Series
  readonly limits: ConnectionLimits & {
    /** Largest frame, bytes (larger: the connection is closed with 1009). */
    readonly maxFrameBytes: number
    /** Connections one channel may hold on this node. */
    readonly maxConnectionsPerChannel: number
    /** Heartbeat: a ping this often; a peer that has not answered the last one is dropped. */
    readonly pingMs: number
  }
  /** How open connections are closed when the server closes. */
  readonly closing: () => { readonly code: 1001 | 1012; readonly reason: string }
}

interface ConnectionLifecycle {
  opened(connection: WsConnection): void
  /** The server started closing it; `closed` follows when the closing handshake ends. */
  closing(connection: WsConnection): void
  closed(connection: WsConnection): void
}

/** What the upgrade checks found, for the handler. */
interface Opened {
  readonly entry: ChannelEntry
  readonly token: string
  readonly ip: string
}

/**
 * `/ws/token/v1[/<token>]` (SPEC §6.1): the token and `ipmask` are checked before the upgrade,
 * so a refusal is a plain HTTP answer (401/403/404, JSON body). Open connections follow their
 * channel: a rotated token or a deleted channel closes them.
 */
export async function wsRoutes(app: FastifyInstance, options: WsRoutesOptions): Promise<void> {
  const { registry, limits, metrics } = options
  metrics.watch(() => registry.size)
  const frames = { in: metrics.framesIn, out: metrics.framesOut }
  const opened = new WeakMap<FastifyRequest, Opened>()
  await app.register(websocket, {
    options: { maxPayload: limits.maxFrameBytes },
    // Graceful shutdown: every client is told the server is going away (1001), or, when a worker
    // drains to be replaced, to come back (1012: another worker of the node takes it).
    preClose: (done) => {
      const { code, reason } = options.closing()
      for (const connection of registry.all()) connection.close(code, reason)
      done()
    },
  })

  const check = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const params = request.params as { token?: string }
      const token = bearerToken(request.headers.authorization) ?? params.token
      const ip = senderIp(request.socket.remoteAddress, request.headers['x-forwarded-for'], options.trustProxy)
      const entry = options.access.open(token, ip, '/ws/token/v1/<token>')
      if (registry.countOfChannel(entry.channel.id) >= limits.maxConnectionsPerChannel) {
        return sendError(
          Object.assign(new Error(`channel '${entry.channel.code}' has the most connections it may hold`), { statusCode: 429 }),
          request,
          reply,
        )
      }
      opened.set(request, { entry, token: token as string, ip })
    } catch (error) {
      return sendError(error, request, reply)
    }
  }

  const handler = (socket: WebSocket, request: FastifyRequest) => {
    const found = opened.get(request) as Opened
    const connection = new WsConnection(socket, {
      entry: found.entry,
      token: found.token,
      ip: found.ip,
      requestId: request.id,
      trace: options.tracing && carrierOfHeaders(request.headers),
      handlers: options.handlers,
      gate: options.gate,
      limits,
      frames,
      onClosing: (closing) => options.lifecycle.closing(closing),
      logger: options.logger,
      failures: options.failures,
    })
    registry.add(connection)
    options.lifecycle.opened(connection)
    metrics.opened.value++
    socket.on('message', (data, isBinary) => connection.receive(data as Buffer, isBinary))
    socket.on('pong', () => {
      connection.alive = true
    })
    socket.on('close', (code) => {
      metrics.closed(code)
      registry.remove(connection)
      connection.closed()
      options.lifecycle.closed(connection)
    })
    // A client that breaks the protocol (a frame too large, invalid UTF-8): ws has closed with
    // the code that says why, which the close metric counts; the line says who.
    socket.on('error', (error) => {
      options.logger.info({ err: error, reqId: request.id, connection_id: connection.id }, 'websocket protocol error')
      socket.terminate()
    })
  }

  // A GET without `Upgrade: websocket` passes the same checks, then learns what the endpoint is
  // (@fastify/websocket alone would answer an empty 404).
  const plainHttp = (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('upgrade', 'websocket')
    return sendError(
      new AppError('upgrade_required', 'this is a websocket endpoint: connect with a websocket client (Upgrade: websocket)'),
      request,
      reply,
    )
  }
  // Described in OpenAPI by ws-openapi.ts (one upgrade, not a fastify schema).
  for (const url of ['/ws/token/v1', '/ws/token/v1/:token']) {
    app.route({ method: 'GET', url, preValidation: check, schema: { hide: true }, handler: plainHttp, wsHandler: handler })
  }

  // A rotated token, a deleted channel or an ipmask that no longer allows the sender ends the
  // channel's connections; other changes (scripts, opts) apply to the next frame.
  options.channels.onChange((id) => {
    const entry = options.channels.byId(id)
    for (const connection of registry.ofChannel(id)) {
      if (!entry) connection.close(4404, 'the channel was deleted')
      else if (!sameSecret(entry.channel.token_local, connection.token)) connection.close(4401, 'the channel token was rotated')
      else {
        connection.channel = entry.channel
        try {
          options.access.open(connection.token, connection.ip, '')
        } catch {
          connection.close(4403, "the channel's ipmask no longer allows this address")
        }
      }
    }
  })

  const heartbeat = setInterval(() => {
    for (const connection of registry.all()) {
      if (!connection.alive) {
        connection.terminate()
        continue
      }
      connection.alive = false
      connection.ping()
    }
  }, limits.pingMs)
  heartbeat.unref()
  app.addHook('onClose', async () => clearInterval(heartbeat))
}
