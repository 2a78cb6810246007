/**
 * `/exec` in the OpenAPI document. Its route takes every method and any body as bytes, so it
 * has no fastify schema to describe it: this is its description, by hand, kept beside the
 * route (webhook-routes.ts) and checked by test/openapi.test.ts against a running server.
 */

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'options'] as const
const WITH_BODY: ReadonlySet<string> = new Set(['post', 'put', 'patch', 'delete'])

const error = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers && { headers }),
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
})

const REPLY_HEADERS = {
  'Switchboard-Execution-Id': {
    description: 'the execution that made this answer (sync channels); look it up under /rest/v1/service/executions',
    schema: { type: 'string', format: 'uuid' },
  },
  'X-Request-Id': { description: "the request's id, also in the execution record and the log lines", schema: { type: 'string' } },
  'Switchboard-Duplicate-Of': {
    description: "a repeat of an earlier webhook's opts.dedup key: the answer is that execution's, which did not run again",
    schema: { type: 'string', format: 'uuid' },
  },
}

const REQUEST_BODY = {
  required: false,
  description:
    'Any body up to SWITCHBOARD_WEBHOOK_BODY_LIMIT (10 MiB). The script sees JSON and forms parsed, text as text, ' +
    'and anything else as bytes (request.rawBody is always the base64 of the bytes).',
  content: {
    'application/json': { schema: {} },
    'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } },
    'text/plain': { schema: { type: 'string' } },
    '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
  },
}

const RESPONSES = {
  '200': {
    description:
      'A sync channel (opts.issync): the reply of the script, from its variables — status (default 200), headers, and result: ' +
      'a string is sent as text/plain, bytes as application/octet-stream, anything else as JSON. ' +
      'An async channel: {"execution_id"} at once, after the request is stored durably.',
    headers: REPLY_HEADERS,
    content: {
      'application/json': {
        schema: {
          anyOf: [
            { title: 'Script reply', description: "sync channels: the script's vars.result" },
            {
              title: 'Accepted',
              type: 'object',
              description: 'async channels: the request is stored and will run',
              properties: {
                execution_id: { type: 'string', format: 'uuid' },
                duplicate: { type: 'boolean', const: true, description: 'a repeat of an opts.dedup key: the first execution' },
              },
              required: ['execution_id'],
            },
          ],
        },
      },
      'text/plain': { schema: { type: 'string' } },
      'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
    },
  },
  '401': error(
    'No token: neither an Authorization: Bearer header nor a path segment; or the channel checks signatures (opts.verify) and ' +
      'this one is missing ("signature missing: …"), does not match ("signature does not match") or its timestamp is too old ' +
      '("signature timestamp outside tolerance (300 s)")',
  ),
  '403': error("The sender's address is outside the channel's ipmask"),
  '404': error('No channel has this token, or the channel has no webhook script (recv_svcscriptcode)'),
  '413': error('The body is larger than the webhook limit'),
  '429': error('Too many sync webhooks of this channel in flight (SWITCHBOARD_WEBHOOK_CONCURRENCY)', {
    'Retry-After': { schema: { type: 'integer' } },
  }),
  '500': error('The script failed: "script failed (execution <id>)"; the details are in the execution, never in the answer', {
    'Switchboard-Execution-Id': REPLY_HEADERS['Switchboard-Execution-Id'],
  }),
  '503': error('The server is shutting down'),
  '504': error("The script did not answer within the channel's timeout (opts.recv_timeout, 0 → 10 s)", {
    'Switchboard-Execution-Id': REPLY_HEADERS['Switchboard-Execution-Id'],
  }),
  default: {
    description: 'Any other status a sync script chose (vars.status), with its headers and body',
    headers: REPLY_HEADERS,
    content: { '*/*': { schema: {} } },
  },
}

const TOKEN = {
  name: 'token',
  in: 'path',
  required: true,
  description:
    "the channel's token_local, for senders that cannot set headers (it never reaches scripts or records: " +
    'they see ~ in its place). With an Authorization: Bearer header, this segment is the first of the sub-path instead.',
  schema: { type: 'string', minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' },
}

const SUB_PATH = {
  name: 'path',
  in: 'path',
  required: true,
  description:
    'the sub-path after the token, any number of segments with their slashes as they are: scripts see it as request.path',
  schema: { type: 'string' },
}

interface Form {
  readonly path: string
  readonly suffix: string
  readonly what: string
  readonly parameters: readonly unknown[]
  readonly security: readonly unknown[]
}

const FORMS: readonly Form[] = [
  {
    path: '/exec',
    suffix: '',
    what: 'the token in the Authorization: Bearer header; the sub-path is what follows /exec',
    parameters: [],
    security: [{ channelToken: [] }],
  },
  {
    path: '/exec/{token}',
    suffix: 'TokenInPath',
    what: 'the token as the first path segment',
    parameters: [TOKEN],
    security: [],
  },
  {
    path: '/exec/{token}/{path}',
    suffix: 'TokenInPathWithSubPath',
    what: 'the token as the first path segment, then a sub-path for the script',
    parameters: [TOKEN, SUB_PATH],
    security: [],
  },
]

/** The path items of `/exec`: every method, with the token in the header or in the path. */
export function webhookPaths(): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const form of FORMS) {
    const item: Record<string, unknown> = {}
    for (const method of METHODS) {
      item[method] = {
        tags: ['webhooks'],
        operationId: `${method}Webhook${form.suffix}`,
        summary: `Send the channel a webhook (${method.toUpperCase()}), ${form.what}`,
        description:
          "Runs the channel's webhook script (recv_svcscriptcode) with the request: startparam(1) the channel, (2) the method, " +
          "(3) the URL with the token replaced by ~, (4) the body, (5) the headers, (6) the sender's IP, (7) the protocol; " +
          '`request` holds all of it. docs/webhooks.md has the details.',
        security: form.security,
        parameters: form.parameters,
        ...(WITH_BODY.has(method) && { requestBody: REQUEST_BODY }),
        responses: RESPONSES,
      }
    }
    paths[form.path] = item
  }
  return paths
}
