import swagger from '@fastify/swagger'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { webhookPaths } from '../webhooks/webhook-openapi.ts'
import { wsPaths } from '../websocket/ws-openapi.ts'

/** Path → method → operation. */
type PathItems = Record<string, Record<string, Record<string, unknown>>>

/** What a wildcard route (`/files/*`) takes, under a name OpenAPI allows. */
const WildcardParams = Type.Object(
  {
    path: Type.String({
      description: 'the file path: its segments with their slashes as they are (an encoded %2F is refused)',
      examples: ['reports/2026/report.csv'],
    }),
  },
  { additionalProperties: false },
)

/**
 * The OpenAPI document, built from the same schemas that validate requests, plus the two
 * endpoints that have none: `/exec` (webhook-openapi.ts) and the websocket upgrade
 * (ws-openapi.ts). Register before any route: the plugin collects routes as they are added.
 */
export async function installOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Switchboard',
        version,
        description:
          'Integration channel server: channels (integration points), service scripts, webhooks and websockets. ' +
          'Errors are {error_code: 1000 + HTTP status, error_message, error_details?}.',
        license: { name: 'Apache License 2.0', identifier: 'Apache-2.0' },
      },
      servers: [
        {
          url: '{origin}',
          description: 'A Switchboard server; the document is served by each at /rest/v1/openapi.json',
          variables: { origin: { default: 'http://127.0.0.1:8080', description: 'scheme, host and port of the server' } },
        },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'API key or root key' },
          channelToken: {
            type: 'http',
            scheme: 'bearer',
            description: "a channel's token_local (webhooks, websockets, files API)",
          },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'SWITCHBOARD_METRICS_TOKEN, when it is set' },
        },
      },
      security: [{ apiKey: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
    transform: openApiRoute,
    transformObject: (document) => {
      // Only `openapiObject` comes here: the document is OpenAPI 3.1, never Swagger 2.
      const { openapiObject } = document as { openapiObject: Record<string, unknown> & { paths?: unknown } }
      const paths = { ...(openapiObject.paths as PathItems), ...webhookPaths(), ...wsPaths() } as PathItems
      return { ...openapiObject, paths: uniqueOperationIds(paths) }
    },
  })
  app.get('/rest/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

/**
 * How a route appears in the document (fastify-swagger's `transform`; a route with a
 * `config.swaggerTransform` of its own calls it too).
 */
export function openApiRoute({ schema, url }: { schema: FastifySchema; url: string }): { schema: FastifySchema; url: string } {
  // `/files/` is `/files` again (both are routed; documented once, without the trailing slash).
  if (url.length > 1 && url.endsWith('/')) return { schema: { ...schema, hide: true } as FastifySchema, url }
  // A wildcard is a named path parameter in OpenAPI.
  if (url.endsWith('/*')) return { schema: { ...schema, params: WildcardParams }, url: `${url.slice(0, -1)}{path}` }
  return { schema, url }
}

/**
 * A route registered for several methods (GET and HEAD of a download) shares one schema, so its
 * operationId comes twice: the later methods get theirs with the method added (`downloadFileHead`).
 */
function uniqueOperationIds(paths: PathItems): PathItems {
  const seen = new Set<string>()
  const out: PathItems = {}
  for (const [path, item] of Object.entries(paths)) {
    const operations: PathItems[string] = {}
    for (const [method, operation] of Object.entries(item)) {
      let id = typeof operation.operationId === 'string' ? operation.operationId : undefined
      if (id !== undefined && seen.has(id)) id = `${id}${method.charAt(0).toUpperCase()}${method.slice(1)}`
      if (id !== undefined) seen.add(id)
      operations[method] = id === undefined ? operation : { ...operation, operationId: id }
    }
    out[path] = operations
  }
  return out
}
