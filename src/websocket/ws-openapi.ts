/**
 * The websocket upgrade `/ws/token/v1` in the OpenAPI document: the HTTP part of it (the request,
 * the checks, the refusals). What travels over the open connection — `[name, payload]` frames —
 * is described in docs/websocket.md, which OpenAPI has no words for.
 */

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
})

const UPGRADE_HEADERS = [
  { name: 'Connection', in: 'header', required: true, schema: { type: 'string', const: 'Upgrade' } },
  { name: 'Upgrade', in: 'header', required: true, schema: { type: 'string', const: 'websocket' } },
  { name: 'Sec-WebSocket-Version', in: 'header', required: true, schema: { type: 'string', const: '13' } },
  {
    name: 'Sec-WebSocket-Key',
    in: 'header',
    required: true,
    description: '16 random bytes in base64 (RFC 6455); every websocket client sends it',
    schema: { type: 'string' },
  },
]

const RESPONSES = {
  '101': {
    description:
      'The connection is open. Every frame is a JSON text [name, payload]: a request carries a qid and is answered by ' +
      '[name + "_result", {qid, …}]; connection_info and message on every connection, the capabilities the channel allows ' +
      '(opts.filter_capabilities), pushes and events from the server. docs/websocket.md describes each frame. ' +
      'Close codes: 1001 (shutdown), 1012 (the worker is replaced: reconnect), 4401 (token rotated), 4403 (ipmask), 4404 (channel deleted).',
    headers: {
      Upgrade: { schema: { type: 'string', const: 'websocket' } },
      'Sec-WebSocket-Accept': { schema: { type: 'string' } },
    },
  },
  '401': error('No token: neither an Authorization: Bearer header nor a path segment'),
  '403': error("The sender's address is outside the channel's ipmask"),
  '404': error('No channel has this token'),
  '426': error('A plain HTTP request (no Upgrade: websocket) with a valid token: connect with a websocket client'),
  '429': error('The channel holds the most connections it may (SWITCHBOARD_WS_MAX_CONNECTIONS)'),
  '503': error('The server is shutting down'),
}

const TOKEN = {
  name: 'token',
  in: 'path',
  required: true,
  description: "the channel's token_local, for clients that cannot set headers (browsers)",
  schema: { type: 'string', minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' },
}

/** The path items of the websocket Token API's upgrade, with the token in the header or the path. */
export function wsPaths(): Record<string, Record<string, unknown>> {
  const operation = (operationId: string, summary: string, parameters: readonly unknown[], security: readonly unknown[]) => ({
    get: {
      tags: ['websocket'],
      operationId,
      summary,
      description:
        'Upgrades to a websocket connection of the channel (RFC 6455). The token and the ipmask are checked first; a ' +
        'refusal is a plain HTTP answer with the usual error body.',
      security,
      parameters: [...parameters, ...UPGRADE_HEADERS],
      responses: RESPONSES,
    },
  })
  return {
    '/ws/token/v1': operation(
      'openWebsocket',
      'Open a websocket connection, with the token in the Authorization: Bearer header',
      [],
      [{ channelToken: [] }],
    ),
    '/ws/token/v1/{token}': operation(
      'openWebsocketTokenInPath',
      'Open a websocket connection, with the token in the path',
      [TOKEN],
      [],
    ),
  }
}
