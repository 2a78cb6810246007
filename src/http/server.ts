import type { Duplex } from 'node:stream'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import { AppError } from '../errors.ts'
import { type Logger, redactUrl } from '../logger.ts'
import { sendError } from './error-handler.ts'
import { installJsonBodyParser } from './json-body.ts'
import { ErrorBody } from './shared-schemas.ts'

export interface HttpServerOptions {
  readonly logger: Logger
  /** Default body limit in bytes; routes that take more (webhooks, files) set their own. */
  readonly bodyLimit: number
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

function writeClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, reason, message] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request', 'the request is not valid HTTP']
  const body = JSON.stringify({ error_code: 1000 + status, error_message: message })
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(error)
}

/** The fastify instance every capability registers its routes on. */
export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new RequestLog(),
    bodyLimit: options.bodyLimit,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 256 },
    // Errors raised before routing (a malformed URL) and on the raw socket use the one shape too.
    frameworkErrors: (error, request, reply) => {
      sendError(error, request, reply)
    },
    clientErrorHandler: writeClientError,
    ajv: {
      // Bodies are checked as sent: no coercion, no silent removal of unknown fields, no defaults.
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  })
  // Entities are shaped by the collection layer (hidden fields removed, mask, flat); response
  // schemas document them in OpenAPI and the tests check responses against them.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  installJsonBodyParser(app)
  app.setErrorHandler(sendError)
  app.setNotFoundHandler((request, reply) => {
    const path = redactUrl(request.url).split('?')[0]
    return sendError(new AppError('not_found', `no route ${request.method} ${path}`), request, reply)
  })
  app.addSchema(ErrorBody)
  return app
}
