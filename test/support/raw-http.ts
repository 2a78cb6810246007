import { request } from 'node:http'
import type { Readable } from 'node:stream'
import type { Reply } from './server.ts'

export interface RawReply extends Reply {
  readonly bytes: Buffer
}

/**
 * One HTTP request with the path sent exactly as given (fetch resolves `..` and `%2e%2e` before
 * sending, so hostile paths need this). `body` may be a stream (sent chunked unless a
 * content-length header is given).
 */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string | Readable,
): Promise<RawReply> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (response) => {
      const parts: Buffer[] = []
      response.on('data', (part: Buffer) => parts.push(part))
      response.on('error', reject)
      response.on('end', () => {
        const bytes = Buffer.concat(parts)
        const text = bytes.toString('utf8')
        let parsed: unknown
        try {
          parsed = text === '' ? undefined : JSON.parse(text)
        } catch {
          parsed = undefined
        }
        const fetched = new Headers()
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) fetched.set(name, Array.isArray(value) ? value.join(', ') : value)
        }
        resolve({ status: response.statusCode ?? 0, headers: fetched, body: parsed, text, bytes })
      })
    })
    outgoing.on('error', reject)
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) outgoing.end(body)
    else body.pipe(outgoing)
  })
}
