import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ChannelDirectory } from '../channels/channel-directory.ts'
import type { Channel } from '../channels/channel-schemas.ts'
import type { Actor } from '../collections/collection.ts'
import type { DomainDirectory } from '../domains/domain-directory.ts'
import { AppError } from '../errors.ts'
import { hasControlCharacter } from '../files/file-paths.ts'
import type { Authenticated, CallOrigin } from '../iam/authenticator.ts'
import { ALL_RIGHTS, type Rights } from '../iam/permissions.ts'
import type { AccessRights } from '../iam/token-rights.ts'
import { carried, type TraceCarrier } from '../tracing/tracing.ts'

/** What a call answers: the HTTP status and the body (parsed JSON, or text). */
export interface ApiAnswer {
  readonly status: number
  readonly body: unknown
}

export interface InProcessApiDeps {
  readonly domains: DomainDirectory
  readonly channels: ChannelDirectory
  readonly rights: AccessRights
}

/** The header that carries a call's one-time ticket; never honoured on a request from a socket. */
const TICKET_HEADER = 'switchboard-in-process-ticket'
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])
const MAX_PATH = 4096
const REST_PREFIX = '/rest/v1/'
/** How `inject` (light-my-request) turns a path into the URL it routes: the WHATWG parser. */
const BASE = 'http://in-process'
const NOT_REST = `path must be a path of the REST API, starting with ${REST_PREFIX}`

/** `segment` fully percent-decoded (a few rounds: a double encoding is seen too), or undefined when malformed. */
function decoded(segment: string): string | undefined {
  let text = segment
  for (let round = 0; round < 3 && text.includes('%'); round++) {
    try {
      text = decodeURIComponent(text)
    } catch {
      return undefined
    }
  }
  return text
}

/**
 * The URL an in-process call routes, `path` checked (SPEC §6.4, §10): a REST API path, whose
 * segments are neither `.` nor `..` (nor encode one, nor an encoded `/` or `\`), with no
 * backslash, whitespace, fragment or control character. The check runs on the URL as the router
 * will see it, after the WHATWG parser `inject` uses has normalised it, so no spelling of a path
 * reaches a route outside `/rest/v1/`. Throws 1400.
 */
function restTarget(path: unknown): string {
  if (typeof path !== 'string' || path.length > MAX_PATH || /[\s#\\]/.test(path) || hasControlCharacter(path)) {
    throw new AppError('bad_request', NOT_REST)
  }
  const question = path.indexOf('?')
  const pathname = question === -1 ? path : path.slice(0, question)
  if (!pathname.startsWith(REST_PREFIX)) throw new AppError('bad_request', NOT_REST)
  for (const segment of pathname.split('/')) {
    const plain = decoded(segment)
    if (plain === undefined) throw new AppError('bad_request', 'path has a malformed percent-encoding')
    if (plain === '.' || plain === '..') throw new AppError('bad_request', 'path may not hold . or .. segments (also encoded)')
    if (plain !== segment && /[/\\]/.test(plain)) throw new AppError('bad_request', 'path may not hold an encoded / or \\')
  }
  const url = new URL(path, BASE)
  const target = url.pathname + url.search
  // Belt and braces: what the router gets must still be under the prefix.
  if (url.origin !== BASE || !url.pathname.startsWith(REST_PREFIX)) throw new AppError('bad_request', NOT_REST)
  return target
}

/**
 * The project REST API called from inside the server (SPEC §6.4 `rest`, §4 `api.request`): the
 * same fastify routes, validation and rights checks as over HTTP, through `inject` (no TCP).
 *
 * How a call carries its principal: each call stores it under a fresh 256-bit ticket, which goes
 * in a header of the injected request and is removed once the call ends. The auth hook asks
 * `principal(request)`, which honours a ticket only on a request that `inject` made
 * (`isLightMyRequest`, a property no socket request has), deletes the header so no handler or
 * log line sees it, and otherwise answers nothing — so a request from outside that sends the
 * header gets nothing from it, whatever its value.
 */
export class InProcessApi {
  readonly #deps: InProcessApiDeps
  readonly #tickets = new Map<string, Authenticated>()
  #http: FastifyInstance | undefined

  constructor(deps: InProcessApiDeps) {
    this.#deps = deps
  }

  /** The server the calls go to (it is built after the modules that call it). */
  attach(http: FastifyInstance): void {
    this.#http = http
  }

  /** For the auth hook: the principal of an in-process call, or undefined. */
  readonly principal = (request: FastifyRequest): Authenticated | undefined => {
    const ticket = request.headers[TICKET_HEADER]
    if (ticket === undefined) return undefined
    delete request.headers[TICKET_HEADER]
    if (typeof ticket !== 'string' || (request.raw as { isLightMyRequest?: unknown }).isLightMyRequest !== true) return undefined
    return this.#tickets.get(ticket)
  }

  /**
   * Calls `method path` as `actor` in domain `domainId`: a channel acts with its token's rights
   * (its current `opts.roles` and `opts.userid`), a user with its roles, the root key with all.
   * Refused rights answer `{status: 403, body: {error_code: 1403, …}}` like any other HTTP error;
   * a call that is not a REST call at all throws 1400. `origin`: the execution whose script
   * calls (`api.request`), which the runs the call starts continue (its chain, its end).
   * `trace`: that execution's span, the parent of the call's server span when tracing is on.
   */
  async call(
    domainId: string,
    actor: Actor,
    method: unknown,
    path: unknown,
    body: unknown,
    origin?: CallOrigin,
    trace?: TraceCarrier,
  ): Promise<ApiAnswer> {
    const verb = typeof method === 'string' ? method.toUpperCase() : undefined
    if (verb === undefined || !METHODS.has(verb))
      throw new AppError('bad_request', 'method must be one of GET, POST, PUT, PATCH, DELETE')
    const url = restTarget(path)
    const http = this.#http
    if (!http) throw new AppError('unavailable', 'the server is starting')
    const domain = this.#deps.domains.byId(domainId)
    if (!domain) throw new AppError('not_found', 'the domain no longer exists')
    const principal: Authenticated = {
      domain,
      scope: domain.id,
      actor: this.#actorOf(domainId, actor),
      rights: this.#rightsOf(domainId, actor),
      ...(origin && { origin }),
    }
    const ticket = randomBytes(32).toString('base64url')
    this.#tickets.set(ticket, principal)
    try {
      const withBody = body !== undefined && body !== null
      const response = await http.inject({
        method: verb as 'GET',
        url,
        headers: {
          [TICKET_HEADER]: ticket,
          ...(withBody && { 'content-type': 'application/json' }),
          ...(trace && carried(trace)),
        },
        ...(withBody && { payload: JSON.stringify(body) }),
      })
      const text = response.body
      const json = /^application\/json/.test(String(response.headers['content-type'] ?? ''))
      return { status: response.statusCode, body: json && text !== '' ? JSON.parse(text) : text }
    } finally {
      this.#tickets.delete(ticket)
    }
  }

  /**
   * Who the call acts as, for the audit log and the runs it starts: a channel whose token acts
   * with its `opts.userid` user's rights is that user, `via` the channel (SPEC §10); a channel
   * without one is the channel.
   */
  #actorOf(domainId: string, actor: Actor): Actor {
    if (actor.kind !== 'channel') return { ...actor }
    const userId = this.#deps.rights.channelUser(domainId, this.#channel(domainId, actor.id))
    return userId === undefined ? { ...actor } : { kind: 'user', id: userId, via: { kind: 'channel', id: actor.id } }
  }

  /** The rights of `actor`: a channel's (or a user's through a channel) are its token's, as they are now. */
  #rightsOf(domainId: string, actor: Actor): Rights {
    if (actor.kind === 'root') return ALL_RIGHTS
    const channelId = actor.kind === 'channel' ? actor.id : actor.via?.id
    if (channelId === undefined) return this.#deps.rights.ofUser(domainId, actor.id)
    return this.#deps.rights.ofChannel(domainId, this.#channel(domainId, channelId))
  }

  #channel(domainId: string, id: string): Channel {
    const entry = this.#deps.channels.byId(id)
    if (!entry || entry.domainId !== domainId) throw new AppError('not_found', 'the channel no longer exists')
    return entry.channel
  }
}
