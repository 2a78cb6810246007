import pino, { type Logger } from 'pino'
import type { LogLevel } from './config.ts'

export type { Logger }

/** Path segments that carry a channel token or a link's secret; logs show `~` instead (SPEC §5.1). */
const TOKEN_IN_PATH = /^(\/exec\/|\/ws\/token\/v1\/|\/temp\/)[^/?#]+/

export function redactUrl(url: string): string {
  return url.replace(TOKEN_IN_PATH, '$1~')
}

/** The one structured logger. Secrets (keys, tokens, Authorization) never reach a log line. */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          '*.token_local',
          '*.token_remote',
          '*.token_remote2',
          '*.key',
        ],
        censor: '[redacted]',
      },
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
