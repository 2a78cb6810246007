import pino, { type Logger } from 'pino'
import type { LogLevel } from './config.ts'

export type { Logger }

/**
 * Path segments that are secrets: channel tokens (`/exec/<token>`, `/ws/token/v1/<token>`, the
 * token check `/rest/v1/service/integration_tokens/<token>`) and temporary file links
 * (`/temp/<random>`). Logs show `~` instead (SPEC §5.1).
 */
const SECRET_IN_PATH = /^(\/exec\/|\/ws\/token\/v1\/|\/rest\/v1\/service\/integration_tokens\/|\/temp\/)[^/?#]+/

export function redactUrl(url: string): string {
  return url.replace(SECRET_IN_PATH, '$1~')
}

/** Fields that hold secrets, wherever they appear in a logged object (up to three levels down). */
const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'token_local',
  'token_remote',
  'token_remote2',
  'key',
  'key_hash',
  'adminKey',
  'metricsToken',
]
const REDACTED_PATHS = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`, `*.*.*.${field}`])

/**
 * The one structured logger (JSON lines, pino). Secrets never reach a line: request lines show
 * method, token-free URL, address and the request id (`reqId`), never headers; fields named like
 * secrets (`authorization`, `token_local`, `key`, …) are replaced by `[redacted]` at the top
 * and up to three levels down.
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
