import pino, { type Logger } from 'pino'
import type { LogLevel } from './config.ts'

export type { Logger }

/** Segments whose next segment is a secret: `/exec/<token>`, `/temp/<link>`, `…/integration_tokens/<token>`. */
const BEFORE_SECRET = new Set(['exec', 'temp', 'integration_tokens'])
/** A run of token characters long enough to be a token, a key or a link secret (16: the shortest token). */
const TOKEN_RUN = /[A-Za-z0-9_-]{16,}/g
const DIGIT = /[0-9]/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function decoded(segment: string): string {
  if (!segment.includes('%')) return segment
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** Whether a (decoded) segment holds something shaped like a token: a long run with a digit, not a UUID. */
function tokenShaped(segment: string): boolean {
  for (const [run] of segment.matchAll(TOKEN_RUN)) if (DIGIT.test(run) && !UUID.test(run)) return true
  return false
}

/**
 * The URL as logs show it: secrets in the path replaced by `~` (SPEC §5.1), on every route and
 * however the URL is spelt, since a refused request is logged too (`/exec//<token>`,
 * `/EXEC/<token>`, `/exec%2f<token>`). A segment goes when it follows `exec`, `temp`,
 * `integration_tokens` or `ws/token/v1` (in any case, empty segments skipped), or when it holds
 * a token-shaped run: 16 or more of `[A-Za-z0-9_-]` with a digit, other than a UUID — the
 * generated tokens (32 hex), API keys and link secrets all are. The query string is kept.
 */
export function redactUrl(url: string): string {
  const end = url.search(/[?#]/)
  const path = end === -1 ? url : url.slice(0, end)
  const segments = path.split('/')
  let secretNext = false
  let last = ''
  let beforeLast = ''
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string
    if (segment === '') continue
    const plain = decoded(segment)
    const lower = plain.toLowerCase()
    // An encoded separator hides segments inside this one (`exec%2f<token>`): it goes whole.
    const hidden = plain !== segment && /[/\\]/.test(plain) && lower.split(/[/\\]/).some((part) => BEFORE_SECRET.has(part))
    const redact = secretNext || hidden || tokenShaped(plain)
    secretNext = BEFORE_SECRET.has(lower) || (lower === 'v1' && last === 'token' && beforeLast === 'ws')
    beforeLast = last
    last = lower
    if (redact) segments[i] = '~'
  }
  return end === -1 ? segments.join('/') : segments.join('/') + url.slice(end)
}

/** Fields that hold secrets. */
const SECRET_FIELDS = ['authorization', 'cookie', 'token_local', 'token_remote', 'token_remote2', 'key', 'key_hash']
/** Where they are redacted: at the top of a logged object, and in the objects that carry them (`req` is serialized without headers). */
const SECRET_HOLDERS = ['headers', 'channel', 'entity', 'doc']
/**
 * Explicit paths, no wildcards: pino redacts the bindings of every child logger too, and fastify
 * makes one per request. Measured per child (per request) / per written line: these 35 paths
 * 0.4 / 4.0 µs; the 6 paths with one `*.` wildcard before them 1.8 / 6.2 µs; the same fields
 * at any depth up to three (`*.*.*.field`) 6.4 / 35 µs, which took 44 % more CPU per admin GET.
 */
const REDACTED_PATHS = SECRET_FIELDS.flatMap((field) => [field, ...SECRET_HOLDERS.map((holder) => `${holder}.${field}`)])

/**
 * The one structured logger (JSON lines, pino). Secrets never reach a line: request lines show
 * method, token-free URL, address and the request id (`reqId`), never headers; fields named like
 * secrets (`authorization`, `token_local`, `key`, …) are replaced by `[redacted]` at the top of
 * a logged object and in its `headers`, `channel`, `entity` and `doc`.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: { method: string; url: string; ip?: string; id?: string }) => ({
          method: req.method,
          url: redactUrl(req.url),
          ip: req.ip,
        }),
        res: (res: { statusCode: number }) => ({ status: res.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    destination,
  )
}
