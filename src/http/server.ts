import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import { AppError, errorBody } from '../errors.ts'
import { type Logger, redactUrl } from '../logger.ts'
import type { HttpMetrics } from '../metrics/metrics.ts'
import { sendError } from './error-handler.ts'
import { installJsonBodyParser } from './json-body.ts'
import { installRequestMetrics } from './request-metrics.ts'
import { ErrorBody } from './shared-schemas.ts'

export interface HttpServerOptions {
  readonly logger: Logger
  /** Default body limit in bytes; routes that take more (webhooks, files) set their own. */
  readonly bodyLimit: number
  readonly metrics: HttpMetrics
}

/** The header that carries a request's id in and out. */
const REQUEST_ID_HEADER = 'x-request-id'
/** An id a client (or its proxy) sent is kept when it looks like one; anything else is replaced. */
const GIVEN_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Ids made here: a random prefix per process and a counter, e.g. `rK3x9QwZ0b.1a`. Unique across
 * processes and restarts, and cheap: `randomUUID` per request took 0.8 % of the server's CPU on
 * an admin GET (profiled), this takes one string concatenation.
 */
const ID_PREFIX = `${randomBytes(8).toString('base64url')}.`
let idCounter = 0

/**
 * A request's id: the client's `X-Request-Id` when it is a plain token (a proxy's id then ties
 * its logs to ours), else a new one. It is in every log line of the request, its executions'
 * records and log lines, and the scripts' outbound calls, and comes back in the answer.
 */
function requestId(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER]
  return typeof given === 'string' && GIVEN_REQUEST_ID.test(given) ? given : ID_PREFIX + (++idCounter).toString(36)
}

/**
 * Request lines: 4xx at info, 5xx at error, the rest at debug; nothing on arrival. Logging every
 * request at info would cost more than the requests themselves on the hot paths.
 */
class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null, request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode
    const level = status >= 500 ? 'error' : status >= 400 ? 'info' : 'debug'
    const log = reply.log as Logger
    if (!log.isLevelEnabled(level)) return
    const line = { req: request, res: reply, ms: Math.round(reply.elapsedTime * 100) / 100 }
    if (status >= 500) log.error({ ...line, err: error ?? undefined }, 'request failed')
    else if (status >= 400) log.info(line, 'request refused')
    else log.debug(line, 'request completed')
  }
}

const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request took too long to arrive'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'the request headers are too large'],
}

/**
 * Era's `LOOKUP <collection>` verb, which Node's HTTP parser refuses before any route runs: the
 * answer names the POST form that does the same (SPEC §2). `rawPacket` holds the bytes that
 * failed, and maybe requests before them on the connection: the failed one starts on the line
 * where parsing stopped.
 */
function lookupVerbAnswer(error: Error & { code?: string; rawPacket?: unknown; bytesParsed?: unknown }) {
  if (error.code !== 'HPE_INVALID_METHOD' || !Buffer.isBuffer(error.rawPacket)) return undefined
  const stop = typeof error.bytesParsed === 'number' ? error.bytesParsed : 0
  const start = error.rawPacket.lastIndexOf('\n', stop - 1) + 1
  const line = error.rawPacket.subarray(start, start + 512).toString('latin1')
  const target = /^LOOKUP +(\S+)/.exec(line)?.[1]
  if (target === undefined) return undefined
  const path = target.split('?')[0] as string
  const post = /^\/rest\/v1\/[A-Za-z0-9_/-]{1,200}$/.test(path)
    ? `POST ${path.replace(/\/+$/, '')}/lookup`
    : 'POST <collection>/lookup'
  return [
    400,
    'Bad Request',
    `the LOOKUP verb is not accepted (Node's HTTP parser refuses unknown verbs): send ${post} with one unique key in a JSON body, e.g. {"code": "…"}`,
  ] as const
}

function writeClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, reason, message] = CLIENT_ERRORS[error.code ?? ''] ??
    lookupVerbAnswer(error) ?? [400, 'Bad Request', 'the request is not valid HTTP']
  const body = JSON.stringify(errorBody(status, message))
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}

/**
 * Stops accepting and waits for the requests in flight: the listening socket closes and
 * websockets are told 1001 or 1012 (ws-routes.ts). On a shutdown (`replacing` false), requests
 * arriving on open connections are answered 503 and a keep-alive connection is closed as soon as
 * it is idle. A worker being replaced (`replacing`: the node's other workers serve on) answers
 * them as usual with `Connection: close`, so each client moves to a live worker after its answer
 * instead of losing a request, and connections idle at the start are closed a moment later.
 * Requests still running after `graceMs` are cut (their connections closed). Resolves with the
 * number of connections cut.
 */
export async function closeHttpServer(app: FastifyInstance, graceMs: number, replacing = false): Promise<number> {
  closingModes.set(app, replacing ? 'replacing' : 'shutdown')
  let idleLater: NodeJS.Timeout | undefined
  if (replacing) {
    app.server.keepAliveTimeout = REPLACING_KEEP_ALIVE_MS
    // Node's server.close() (and fastify's) closes the connections idle at that instant. A client
    // that has just had its answer sends its next request on one in the same instant and is
    // reset: every keep-alive sender lost a request per rolling restart. Those connections get a
    // moment instead: a request that comes is answered with `Connection: close`; the rest close.
    const closeIdle = app.server.closeIdleConnections.bind(app.server)
    app.server.closeIdleConnections = () => {}
    idleLater = setTimeout(closeIdle, REPLACING_KEEP_ALIVE_MS)
  }
  const closing = app.close()
  // Node closes the connections idle when close() begins, not those that become idle later: a
  // client's keep-alive connection would hold the server open until its keep-alive timeout.
  const idle = replacing ? undefined : setInterval(() => app.server.closeIdleConnections(), IDLE_CLOSE_EVERY_MS)
  let timer: NodeJS.Timeout | undefined
  try {
    const inTime = await Promise.race([
      closing.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs)
      }),
    ])
    if (inTime) return 0
    const open = await new Promise<number>((resolve) => app.server.getConnections((_error, count) => resolve(count ?? 0)))
    app.server.closeAllConnections()
    await closing
    return open
  } finally {
    clearTimeout(timer)
    clearTimeout(idleLater)
    clearInterval(idle)
  }
}

/** How each server is closing (closeHttpServer), read by its onRequest hook. */
const closingModes = new WeakMap<FastifyInstance, 'shutdown' | 'replacing'>()
/** While a worker is replaced, a keep-alive connection idle this long is closed, ms. */
const REPLACING_KEEP_ALIVE_MS = 1000

/** While draining, how often connections that became idle are closed, ms. */
const IDLE_CLOSE_EVERY_MS = 50

/** The fastify instance every capability registers its routes on. */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  // Requests answered before routing (no route, a malformed URL).
  const unmatched = options.metrics.route('unmatched')
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new RequestLog(),
    bodyLimit: options.bodyLimit,
    // Requests on open connections while closing: see closeHttpServer.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 256 },
    requestIdHeader: false,
    genReqId: requestId,
    // Errors raised before routing (a malformed URL) and on the raw socket use the one shape too.
    frameworkErrors: (error, request, reply) => {
      sendError(error, request, reply)
      unmatched.observe(request.method, reply.statusCode, undefined)
    },
    clientErrorHandler: writeClientError,
    ajv: {
      // Bodies are checked as sent: no coercion, no silent removal of unknown fields, no defaults.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  })
  installRequestMetrics(app, options.metrics)
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id)
    const closing = closingModes.get(app)
    if (closing === 'replacing') reply.header('connection', 'close')
    else if (closing === 'shutdown') {
      reply.header('connection', 'close')
      void sendError(new AppError('unavailable', 'the server is shutting down'), request, reply)
      return
    }
    done()
  })
  // Entities are shaped by the collection layer (hidden fields removed, mask, flat); response
  // schemas document them in OpenAPI and the tests check responses against them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  installJsonBodyParser(app)
  app.setErrorHandler(sendError)
  app.setNotFoundHandler((request, reply) => {
    const path = redactUrl(request.url).split('?')[0]
    unmatched.observe(request.method, 404, undefined)
    return sendError(new AppError('not_found', `no route ${request.method} ${path}`), request, reply)
  })
  app.addSchema(ErrorBody)
  return app
}
