import { type TSchema, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.ts'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, IdParams, Link, Uuid } from '../http/shared-schemas.ts'
import type { CallContext } from './collection.ts'
import type { CollectionService, IfMatch, Tagged } from './collection-service.ts'
import { flatten, project } from './field-paths.ts'
import {
  FULL_VIEW,
  type ListQuerystring,
  listQuerystringOf,
  lookupKey,
  parseListRequest,
  parseView,
  type View,
  ViewQuerystring,
} from './list-query.ts'
import { patchSchemaOf } from './patch.ts'

const JSON_TYPE = 'application/json; charset=utf-8'

function shape(entity: Record<string, unknown>, view: View): Record<string, unknown> {
  if (view === FULL_VIEW) return entity
  const masked = view.mask ? project(entity, view.mask) : entity
  return view.flat ? flatten(masked) : masked
}

/** One entity tag, weak or strong, then a comma or the end (RFC 9110 §8.8.3). */
const ENTITY_TAG = /[ \t]*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)/y

/**
 * The request's `If-Match`: `*`, or its strong entity tags (a weak one never matches: RFC 9110
 * §13.1.1 compares strongly); undefined without the header. Malformed: 1400.
 */
function ifMatchOf(request: FastifyRequest): IfMatch | undefined {
  const header = request.headers['if-match']
  if (header === undefined) return undefined
  const value = header.trim()
  if (value === '*') return '*'
  const tags: string[] = []
  let at = 0
  while (at < value.length) {
    ENTITY_TAG.lastIndex = at
    const match = ENTITY_TAG.exec(value)
    if (!match) break
    if (match[1] === undefined) tags.push(match[2] as string)
    at = ENTITY_TAG.lastIndex
  }
  if (value === '' || at < value.length) {
    throw new AppError(
      'bad_request',
      'If-Match must be * or a comma-separated list of ETags in double quotes, as GET answers them',
    )
  }
  return tags
}

/** Answers `tagged`'s entity as the client sees it, with its ETag. */
function sendTagged(
  reply: FastifyReply,
  service: CollectionService,
  tagged: Tagged,
  caller: CallContext,
): Record<string, unknown> {
  reply.header('etag', tagged.etag)
  return service.view(tagged.entity, caller)
}

const ETagHeader = { etag: Type.String({ description: "the entity's ETag, for If-Match" }) }

const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      description: 'ETags (or *) of which the entity must still have one; otherwise 412 (1412) and nothing changes',
    }),
  ),
})

/** The routes of SPEC §2 for one collection. */
export function collectionRoutes(app: FastifyInstance, service: CollectionService): void {
  const { def } = service
  const config = { access: def.master ? ('master' as const) : ('domain' as const) }
  const tags = [def.name]
  const denied = def.master ? [401, 403] : [401, 403, 404]
  const itemPath = `${def.path}/:id`
  const aNoun = `${/^(?:[aeio]|u(?!s)|API)/i.test(def.noun) ? 'an' : 'a'} ${def.noun}`
  const nouns = `${def.noun.replace(/([^aeiou])y$/, '$1ie')}s`
  // operationIds from the noun: listIntegrationPoints, getIntegrationPoint, …
  const name = pascalCase(def.noun)

  app.get(
    def.path,
    {
      config,
      schema: {
        tags,
        operationId: `list${pascalCase(nouns)}`,
        summary: `List ${nouns}`,
        querystring: listQuerystringOf(def),
        response: {
          200: { ...Type.Array(def.entity), headers: { 'x-total-count': Type.Integer() } },
          ...errorResponses(400, ...denied),
        },
      },
    },
    async (request, reply) => {
      const { query, view } = parseListRequest(def, request.query as ListQuerystring)
      const { items, total } = await service.list(authOf(request), query)
      reply.header('x-total-count', total)
      const auth = authOf(request)
      return items.map((doc) => shape(service.view(doc, auth), view))
    },
  )

  app.get(
    itemPath,
    {
      config,
      schema: {
        tags,
        operationId: `get${name}`,
        summary: `Get one ${def.noun}`,
        params: IdParams,
        querystring: ViewQuerystring,
        response: { 200: { ...def.entity, headers: ETagHeader }, ...errorResponses(400, ...denied, 404) },
      },
    },
    async (request, reply) => {
      const view = parseView(def, request.query as ViewQuerystring)
      const { id } = request.params as { id: string }
      const auth = authOf(request)
      if (view === FULL_VIEW && def.hidden.length === 0 && service.revealsAll(auth)) {
        // The stored JSON is the answer: no parse and re-serialisation (the hot admin read).
        const { json, etag } = await service.getJson(auth, id)
        reply.type(JSON_TYPE).header('etag', etag)
        return json
      }
      return shape(sendTagged(reply, service, await service.read(auth, id), auth), view)
    },
  )

  if (!def.writable) return

  const created: TSchema =
    def.onceFields.length === 0
      ? def.entity
      : Type.Composite([def.entity, Type.Object(Object.fromEntries(def.onceFields.map((field) => [field, Type.String()])))])

  app.post(
    def.path,
    {
      config,
      schema: {
        tags,
        operationId: `create${name}`,
        summary: `Create ${aNoun}`,
        ...(def.saveQuerystring && { querystring: def.saveQuerystring }),
        body: def.createBody,
        response: { 200: { ...created, headers: ETagHeader }, ...errorResponses(400, ...denied, 409, 413) },
      },
    },
    async (request, reply) => {
      const auth = authOf(request)
      return sendTagged(reply, service, await service.create(auth, request.body as Record<string, unknown>), auth)
    },
  )

  app.patch(
    itemPath,
    {
      config,
      schema: {
        tags,
        operationId: `update${name}`,
        summary: `Change ${aNoun}: objects merge key by key, null resets a field`,
        params: IdParams,
        ...(def.saveQuerystring && { querystring: def.saveQuerystring }),
        headers: IfMatchHeaders,
        body: patchSchemaOf(def.createBody, Uuid),
        response: { 200: { ...def.entity, headers: ETagHeader }, ...errorResponses(400, ...denied, 404, 409, 412, 413) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const auth = authOf(request)
      const ifMatch = ifMatchOf(request)
      const patch = request.body as Record<string, unknown>
      return sendTagged(reply, service, await service.update(auth, id, patch, ifMatch && { ifMatch }), auth)
    },
  )

  app.delete(
    itemPath,
    {
      config,
      schema: {
        tags,
        operationId: `delete${name}`,
        summary: `Delete ${aNoun}; answers the deleted entity`,
        params: IdParams,
        headers: IfMatchHeaders,
        response: { 200: { ...def.entity, headers: ETagHeader }, ...errorResponses(400, ...denied, 404, 409, 412) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const auth = authOf(request)
      const ifMatch = ifMatchOf(request)
      return sendTagged(reply, service, await service.remove(auth, id, ifMatch && { ifMatch }), auth)
    },
  )

  if (def.keys.length === 0) return

  const LookupBody = Type.Object(
    Object.fromEntries(def.keys.map((key) => [key, Type.Optional(Type.String({ minLength: 1, maxLength: 256 }))])),
    { additionalProperties: false, description: 'exactly one unique key' },
  )
  app.post(
    `${def.path}/lookup`,
    {
      config,
      schema: {
        tags,
        operationId: `lookup${name}`,
        summary: `Find ${aNoun} by ${def.keys.join(' or ')} (Era's LOOKUP verb)`,
        body: LookupBody,
        response: {
          200: Type.Object({ id: Uuid, _links: Link }),
          ...errorResponses(400, ...denied, 404),
        },
      },
    },
    async (request) => {
      const [key, value] = lookupKey(def, request.body as Record<string, string>)
      const id = await service.lookup(authOf(request), key, value)
      return { id, _links: { self: { href: `${def.path}/${id}` } } }
    },
  )
}

/** `integration point` → `IntegrationPoint`, `API key` → `ApiKey`. */
function pascalCase(words: string): string {
  return words
    .split(/[^A-Za-z0-9]+/)
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase())
    .join('')
}
