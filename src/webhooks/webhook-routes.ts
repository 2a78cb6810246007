import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.ts'
import type { IpRanges } from '../net/ip-ranges.ts'
import { senderIp } from './sender-ip.ts'
import { headerObject, placeToken, queryObject, readBody, type WebhookInput } from './webhook-input.ts'
import { REPLY_SECURITY_HEADERS, type WebhookReply } from './webhook-reply.ts'
import type { Webhooks, WebhookTarget } from './webhooks.ts'

export interface WebhookRoutesOptions {
  readonly webhooks: Webhooks
  readonly trustProxy: IpRanges
  /** Largest webhook body, bytes (larger: 1413). */
  readonly bodyLimit: number
  /** Accepts an async webhook durably; resolves with its execution id. */
  readonly accept: (target: WebhookTarget, input: WebhookInput, requestId: string) => Promise<string>
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/**
 * `/exec` and `/exec/<token>[/<sub/path>]` (SPEC §5.1). Registered in a scope of their own: any
 * content type is accepted as bytes up to the webhook limit and read by `readBody`.
 */
export function webhookRoutes(app: FastifyInstance, options: WebhookRoutesOptions): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimit }, (_request, body, done) => {
      done(null, body)
    })
    const handler = (request: FastifyRequest, reply: FastifyReply) => handle(request, reply, options)
    for (const url of ['/exec', '/exec/*']) {
      scope.route({ method: [...METHODS], url, bodyLimit: options.bodyLimit, schema: { hide: true }, handler })
    }
  })
}

async function handle(request: FastifyRequest, reply: FastifyReply, options: WebhookRoutesOptions): Promise<FastifyReply> {
  reply.headers(REPLY_SECURITY_HEADERS)
  const raw = request.url
  const question = raw.indexOf('?')
  const rawPath = question === -1 ? raw : raw.slice(0, question)
  const search = question === -1 ? '' : raw.slice(question)
  const authorization = request.headers.authorization
  const place = placeToken(rawPath, authorization)
  const ip = senderIp(request.socket.remoteAddress, request.headers['x-forwarded-for'], options.trustProxy)
  const target = options.webhooks.target(place.token, ip)
  const body = request.body as Buffer | undefined
  const input: WebhookInput = {
    method: request.method,
    url: place.shownPath + search,
    path: place.subPath,
    query: queryObject(search),
    headers: headerObject(request.headers, place.fromHeader),
    body: readBody(body, request.headers['content-type']),
    ip,
    protocol: `HTTP/${request.raw.httpVersion}`,
  }
  if (!target.channel.opts.issync) {
    return reply.code(200).send({ execution_id: await options.accept(target, input, request.id) })
  }
  try {
    return send(reply, await options.webhooks.runSync(target, input, request.id))
  } catch (error) {
    if (error instanceof AppError && error.status === 429) reply.header('retry-after', '1')
    throw error
  }
}

function send(reply: FastifyReply, answer: WebhookReply): FastifyReply {
  reply.code(answer.status)
  for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value)
  return reply.send(typeof answer.body === 'string' ? answer.body : Buffer.from(answer.body))
}
