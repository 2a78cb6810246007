import { type Static, Type } from '@sinclair/typebox'
import { Code, Ext, ExtInput, ScriptRef, Uuid } from '../http/shared-schemas.ts'
import { MAX_TIMEOUT_MS } from '../scripts/run-limits.ts'

/** Websocket Token-APIs a channel may open besides the base protocol (SPEC §6.4). */
export const CAPABILITIES = ['svcscript', 'subscr', 'files', 'rest'] as const
export type Capability = (typeof CAPABILITIES)[number]

export const BUILT_IN_TYPES = ['public', 'eventing'] as const

const MAX_RECV_TIMEOUT_S = MAX_TIMEOUT_MS / 1000

const TOKEN = '[A-Za-z0-9_-]{16,128}'
/** A token as a caller who may not see it gets it (ids.ts maskSecret). */
const MASKED_TOKEN = '[A-Za-z0-9_-]{0,6}…[A-Za-z0-9_-]{0,4}'
const Token = Type.String({
  maxLength: 128,
  pattern: `^(?:${TOKEN}|${MASKED_TOKEN})$`,
  description: 'shown in clear only to callers who may change the channel; masked (abcdef…wxyz) for others',
})
/** A token given on create or PATCH; a masked value sent back unchanged keeps the stored token. */
const TokenInput = Type.String({
  maxLength: 128,
  pattern: `^(?:${TOKEN}|${MASKED_TOKEN})$`,
  description: '16–128 characters [A-Za-z0-9_-]',
})
const RemoteSecret = Type.String({
  maxLength: 4096,
  description: 'shown in clear only to callers who may change the channel; masked (abcdef…wxyz) for others',
})
const CapabilityName = Type.Union([...CAPABILITIES.map((name) => Type.Literal(name)), Type.Literal('*')])
const IpMask = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256 })
/** On input, `ipmask` may also be one string of entries separated by commas (Era's form). */
const IpMaskInput = Type.Union([
  IpMask,
  Type.String({ maxLength: 256 * 65, description: 'the same entries in one string, separated by commas' }),
])
const Url = Type.String({ maxLength: 2048, description: 'empty, or an absolute http(s) URL' })

const VERIFY_SCHEMES = ['standard-webhooks', 'stripe', 'github', 'slack', 'hmac'] as const

/** Longest `tolerance_s` a verified timestamp may be off by (a day). */
const MAX_TOLERANCE_S = 86_400

const WriteOnlySecret = Type.String({
  minLength: 1,
  maxLength: 1024,
  description: 'write-only: reads show it masked (whsec_…abcd); sending the masked value back keeps it',
})

/** `opts.verify`: the signature every webhook of the channel must carry (docs/webhooks.md). */
const VerifyOpts = Type.Object(
  {
    scheme: Type.Union(VERIFY_SCHEMES.map((scheme) => Type.Literal(scheme))),
    secrets: Type.Array(WriteOnlySecret, {
      minItems: 1,
      maxItems: 2,
      description: 'each is tried; two during a rotation',
    }),
    tolerance_s: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_TOLERANCE_S, description: 'how far a signed timestamp may be off; default 300' }),
    ),
    header: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'hmac: the header with the signature' })),
    prefix: Type.Optional(Type.String({ maxLength: 32, description: 'hmac: text before the signature, e.g. sha256=' })),
    algorithm: Type.Optional(Type.Union([Type.Literal('sha1'), Type.Literal('sha256'), Type.Literal('sha512')])),
    encoding: Type.Optional(Type.Union([Type.Literal('hex'), Type.Literal('base64')])),
  },
  { additionalProperties: false },
)
export type VerifyOpts = Static<typeof VerifyOpts>

/** The longest `opts.dedup.window_s`: 30 days. */
const MAX_DEDUP_WINDOW_S = 30 * 86_400

/** `opts.dedup`: webhooks with a key seen within the window do not run again (docs/webhooks.md). */
const DedupOpts = Type.Object(
  {
    key: Type.String({
      maxLength: 200,
      pattern: "^(?:header:[A-Za-z0-9!#$%&'*+.^_`|~-]+|body:[^.\\s]+(?:\\.[^.\\s]+)*)$",
      description: 'header:<name> (e.g. header:webhook-id) or body:<dotted.path> (a JSON body field)',
    }),
    window_s: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_DEDUP_WINDOW_S, description: 'how long a key is kept, seconds; default 86400' }),
    ),
  },
  { additionalProperties: false },
)

/** `opts.deliver`: how events this channel delivers to its `url` are signed and retried (docs/deliveries.md). */
const DeliverOptsFields = {
  secret: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'whsec_<base64>: signs deliveries (Standard Webhooks); generated when absent; write-only',
    }),
  ),
  rotation_s: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 30 * 86_400,
      description: 'after a new secret, the previous one signs too this long; default 86400',
    }),
  ),
  timeout_ms: Type.Optional(
    Type.Integer({ minimum: 100, maximum: 60_000, description: 'how long an attempt waits for a 2xx; default 15000' }),
  ),
  retry_s: Type.Optional(
    Type.Array(Type.Number({ minimum: 0.01, maximum: 172_800 }), {
      maxItems: 20,
      description:
        'waits before each retry, seconds (each with up to 10 % jitter); default [5, 300, 1800, 7200, 18000, 36000, 36000]',
    }),
  ),
}
const ServerManaged = {
  previous_secret: Type.Optional(
    Type.String({ description: 'the secret before the last change; signs until rotation_s has passed' }),
  ),
  rotated_at: Type.Optional(Type.String({ description: 'when the secret last changed (RFC 3339)' })),
}
const DeliverOpts = Type.Object({ ...DeliverOptsFields, ...ServerManaged }, { additionalProperties: false })
export type DeliverOpts = Static<typeof DeliverOpts>

const ChannelOpts = Type.Object(
  {
    allow_files_api: Type.Boolean(),
    comment: Type.String({ maxLength: 4096 }),
    issync: Type.Boolean(),
    recv_timeout: Type.Integer({ minimum: 0, maximum: MAX_RECV_TIMEOUT_S, description: 'seconds; 0 = 10 s' }),
    roles: Type.Array(Code, { maxItems: 64 }),
    userid: Type.Union([Uuid, Type.Null()]),
    title: Type.String({ maxLength: 256 }),
    filter_capabilities: Type.Array(CapabilityName, { maxItems: 8 }),
    verify: Type.Optional(VerifyOpts),
    dedup: Type.Optional(DedupOpts),
    deliver: Type.Optional(DeliverOpts),
  },
  { additionalProperties: false },
)

/** On input, `opts.verify: null` and `opts.dedup: null` (or absent) mean none. */
const ChannelOptsInput = Type.Partial(
  Type.Object(
    {
      ...ChannelOpts.properties,
      verify: Type.Union([VerifyOpts, Type.Null()]),
      dedup: Type.Union([DedupOpts, Type.Null()]),
      deliver: Type.Union([DeliverOpts, Type.Null()]),
    },
    { additionalProperties: false },
  ),
)

export const Channel = Type.Object(
  {
    id: Uuid,
    code: Code,
    type: Code,
    token_local: Token,
    token_remote: RemoteSecret,
    token_remote2: RemoteSecret,
    ipmask: IpMask,
    url: Url,
    recv_svcscriptcode: ScriptRef,
    send_svcscriptcode: ScriptRef,
    recv_svcscriptcode_ws: ScriptRef,
    send_svcscriptcode_ws: ScriptRef,
    opts: ChannelOpts,
    ext: Ext,
  },
  { additionalProperties: false, title: 'Integration point' },
)
export type Channel = Static<typeof Channel>

export const ChannelCreate = Type.Object(
  {
    id: Type.Optional(Uuid),
    code: Code,
    type: Code,
    token_local: Type.Optional(TokenInput),
    token_remote: Type.Optional(RemoteSecret),
    token_remote2: Type.Optional(RemoteSecret),
    ipmask: Type.Optional(IpMaskInput),
    url: Type.Optional(Url),
    recv_svcscriptcode: Type.Optional(ScriptRef),
    send_svcscriptcode: Type.Optional(ScriptRef),
    recv_svcscriptcode_ws: Type.Optional(ScriptRef),
    send_svcscriptcode_ws: Type.Optional(ScriptRef),
    opts: Type.Optional(ChannelOptsInput),
    ext: Type.Optional(ExtInput),
  },
  { additionalProperties: false },
)

const RELATIVE_URLS_ONLY =
  "scripts of its channels may call http.request only with paths relative to the channel's url (default false; " +
  'types stored before this field existed show none: false)'

/** A solution-defined channel type (SPEC §3.1): the values its channels take. */
export const ChannelType = Type.Object(
  {
    id: Uuid,
    type: Code,
    recv_svcscriptcode: ScriptRef,
    recv_svcscriptcode_ws: ScriptRef,
    send_svcscriptcode: ScriptRef,
    send_svcscriptcode_ws: ScriptRef,
    url: Url,
    issync: Type.Boolean(),
    recv_timeout: Type.Integer({ minimum: 0, maximum: MAX_RECV_TIMEOUT_S }),
    relative_urls_only: Type.Optional(Type.Boolean({ description: RELATIVE_URLS_ONLY })),
    ext: Ext,
  },
  { additionalProperties: false, title: 'Channel type' },
)
export type ChannelType = Static<typeof ChannelType>

export const ChannelTypeCreate = Type.Object(
  {
    id: Type.Optional(Uuid),
    type: Code,
    recv_svcscriptcode: Type.Optional(ScriptRef),
    recv_svcscriptcode_ws: Type.Optional(ScriptRef),
    send_svcscriptcode: Type.Optional(ScriptRef),
    send_svcscriptcode_ws: Type.Optional(ScriptRef),
    url: Type.Optional(Url),
    issync: Type.Optional(Type.Boolean()),
    recv_timeout: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_RECV_TIMEOUT_S })),
    relative_urls_only: Type.Optional(Type.Boolean({ description: RELATIVE_URLS_ONLY })),
    ext: Type.Optional(ExtInput),
  },
  { additionalProperties: false },
)

/** `ipmask` as stored: a comma-separated string becomes its entries (spaces trimmed, empty ones dropped). */
export function ipMaskEntries(value: readonly string[] | string | undefined): string[] {
  if (value === undefined) return []
  if (typeof value !== 'string') return [...value]
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
}

/** Why `url` is not empty or an absolute http(s) URL, or undefined. */
export function urlProblem(url: string): string | undefined {
  if (url === '') return undefined
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'must be empty or an absolute http(s) URL'
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must be an http or https URL'
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry credentials: use token_remote'
  return undefined
}
