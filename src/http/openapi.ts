import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'

/**
 * The OpenAPI document, built from the same schemas that validate requests. Register before any
 * route: the plugin collects routes as they are added.
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
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'API key or root key' },
          channelToken: { type: 'http', scheme: 'bearer', description: "a channel's token_local (files API)" },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'SWITCHBOARD_METRICS_TOKEN, when it is set' },
        },
      },
      security: [{ apiKey: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  })
  app.get('/rest/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
