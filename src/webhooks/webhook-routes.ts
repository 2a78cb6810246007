import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.ts'
import { newTimeOrderedId } from '../ids.ts'
import type { IpRanges } from '../net/ip-ranges.ts'
import { traceServerRequests } from '../tracing/server-spans.ts'
import type { TraceCarrier, TraceSpan, Tracing } from '../tracing/tracing.ts'
import { senderIp } from './sender-ip.ts'
import { type SignatureRefusal, type Verified, verifySignature } from './signatures.ts'
import { DUPLICATE_HEADER, type WebhookDedup } from './webhook-dedup.ts'
import { headerObject, placeToken, queryObject, readBody, type WebhookInput } from './webhook-input.ts'
import { REPLY_SECURITY_HEADERS, type WebhookReply } from './webhook-reply.ts'
import type { Webhooks, WebhookTarget } from './webhooks.ts'

export interface WebhookRoutesOptions {
  readonly webhooks: Webhooks
  readonly trustProxy: IpRanges
  /** Largest webhook body, bytes (larger: 1413). */
  readonly bodyLimit: number
  /** Accepts an async webhook durably; resolves with its execution id. `trace`: the request's span. */
  readonly accept: (
    target: WebhookTarget,
    input: WebhookInput,
    requestId: string,
    trace?: TraceCarrier,
    options?: { readonly id: string; readonly dedupKey: string },
  ) => Promise<string>
  /** `opts.dedup`: webhooks whose key was seen do not run again. */
  readonly dedup?: WebhookDedup
  /**
   * A server span per request (`POST /exec`), a child of the caller's `traceparent`, and the
   * parent of its run's (at once, or later from the queue). Default: off, no hook is added.
   */
  readonly tracing?: Tracing | undefined
  /** Counts a webhook refused for its signature (`opts.verify`). */
  readonly signatureRefused?: (target: WebhookTarget, reason: SignatureRefusal) => void
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
    const spans = options.tracing && traceServerRequests(scope, options.tracing)
    const handler = (request: FastifyRequest, reply: FastifyReply) => handle(request, reply, options, spans?.get(request))
    for (const url of ['/exec', '/exec/*']) {
      scope.route({ method: [...METHODS], url, bodyLimit: options.bodyLimit, schema: { hide: true }, handler })
    }
  })
}

async function handle(
  request: FastifyRequest,
  reply: FastifyReply,
  options: WebhookRoutesOptions,
  span: TraceSpan | undefined,
): Promise<FastifyReply> {
  reply.headers(REPLY_SECURITY_HEADERS)
  const raw = request.url
  const question = raw.indexOf('?')
  const rawPath = question === -1 ? raw : raw.slice(0, question)
  const search = question === -1 ? '' : raw.slice(question)
  const authorization = request.headers.authorization
  const place = placeToken(rawPath, authorization)
  const ip = senderIp(request.socket.remoteAddress, request.headers['x-forwarded-for'], options.trustProxy)
  // The path as logs show it: the token replaced by ~.
  span?.set({ 'url.path': place.shownPath, 'client.address': ip })
  const target = options.webhooks.target(place.token, ip)
  span?.set({ 'switchboard.channel.id': target.channel.id, 'switchboard.channel.code': target.channel.code })
  const body = request.body as Buffer | undefined
  const verified = target.channel.opts.verify && checkSignature(target, request, body, options)
  const input: WebhookInput = {
    method: request.method,
    url: place.shownPath + search,
    path: place.subPath,
    query: queryObject(search),
    headers: headerObject(request.headers, place.fromHeader),
    body: readBody(body, request.headers['content-type']),
    ip,
    protocol: `HTTP/${request.raw.httpVersion}`,
    ...(verified && { verified }),
  }
  const dedup = options.dedup
  const key = dedup?.keyOf(target.channel, input)
  if (!target.channel.opts.issync) {
    if (dedup && key !== undefined) {
      const accepted = await dedup.async(target.domainId, target.channel, key, newTimeOrderedId(), (id) =>
        options.accept(target, input, request.id, span, { id, dedupKey: key }),
      )
      if (accepted.duplicate) reply.header(DUPLICATE_HEADER, accepted.execution_id)
      return reply.code(200).send(accepted)
    }
    return reply.code(200).send({ execution_id: await options.accept(target, input, request.id, span) })
  }
  try {
    if (dedup && key !== undefined) {
      const answer = await dedup.sync(target.domainId, target.channel, key, newTimeOrderedId(), target.timeoutMs, (id) =>
        options.webhooks.runSyncRecorded(target, input, request.id, span, id),
      )
      return send(reply, answer)
    }
    return send(reply, await options.webhooks.runSync(target, input, request.id, span))
  } catch (error) {
    if (error instanceof AppError && error.status === 429) reply.header('retry-after', '1')
    throw error
  }
}

const EMPTY = new Uint8Array(0)

/**
 * The channel's `opts.verify` over the raw bytes, before anything else reads them: refused with
 * 1401 naming the reason (no execution is recorded), counted by channel and reason.
 */
function checkSignature(
  target: WebhookTarget,
  request: FastifyRequest,
  body: Buffer | undefined,
  options: WebhookRoutesOptions,
): Verified {
  const verify = target.channel.opts.verify
  if (!verify) throw new Error('checkSignature needs opts.verify')
  const result = verifySignature(verify, request.headers, body ?? EMPTY, Math.floor(Date.now() / 1000))
  if (result.ok) return result.verified
  options.signatureRefused?.(target, result.reason)
  throw new AppError('unauthorized', result.message)
}

function send(reply: FastifyReply, answer: WebhookReply): FastifyReply {
  reply.code(answer.status)
  for (const [name, value] of Object.entries(answer.headers)) reply.header(name, value)
  return reply.send(typeof answer.body === 'string' ? answer.body : Buffer.from(answer.body))
}
