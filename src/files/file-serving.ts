import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { BlobReader, ByteRange } from '../blobs/blobs.ts'
import { AppError } from '../errors.ts'

const SINGLE_RANGE = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i

/**
 * The one range `header` asks for in a blob of `size` bytes (RFC 9110 §14): undefined when the
 * header is absent, not a single byte range, or malformed (all of which a server ignores,
 * answering the whole file), `'unsatisfiable'` when it lies past the end (416).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const match = SINGLE_RANGE.exec(header)
  if (!match) return undefined
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return undefined
  if (first === '') {
    // A suffix: the last n bytes.
    const length = Number(last)
    if (!Number.isSafeInteger(length)) return undefined
    if (length === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - length), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last)
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end: Math.min(end, size - 1) }
}

/** `filename*=` of Content-Disposition (RFC 6266, RFC 8187): the path's last segment, percent-encoded. */
function disposition(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1)
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `inline; filename*=UTF-8''${encoded}`
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header.trim() === '*') return true
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
}

/**
 * Answers a GET or HEAD with an open blob: `Content-Type`, `Content-Length`, `ETag`,
 * `Last-Modified`, one `Range` (206, 416), `If-None-Match` (304) and `If-Range`. The bytes are
 * streamed from the blob; a HEAD sends none. Downloaded files never run as pages of this origin:
 * `Content-Security-Policy: sandbox` and `X-Content-Type-Options: nosniff` go with every file.
 */
export async function sendBlob(
  request: FastifyRequest,
  reply: FastifyReply,
  reader: BlobReader,
  path: string,
): Promise<FastifyReply> {
  const { info } = reader
  reply.header('etag', info.etag)
  reply.header('last-modified', new Date(info.mtime).toUTCString())
  reply.header('accept-ranges', 'bytes')
  reply.header('cache-control', 'private, no-cache')
  reply.header('x-content-type-options', 'nosniff')
  reply.header('content-security-policy', 'sandbox')
  reply.header('content-disposition', disposition(path))

  if (etagMatches(request.headers['if-none-match'], info.etag)) {
    await reader.close()
    return reply.code(304).send()
  }

  // If-Range with another validator (an older etag, a date): the whole current file instead.
  const ifRange = request.headers['if-range']
  const rangeHeader =
    ifRange === undefined || (typeof ifRange === 'string' && ifRange.trim() === info.etag) ? request.headers.range : undefined
  const range = parseRange(rangeHeader, info.size)
  if (range === 'unsatisfiable') {
    await reader.close()
    reply.header('content-range', `bytes */${info.size}`)
    throw new AppError('range_not_satisfiable', `the range is outside the file (${info.size} bytes)`)
  }
  reply.type(info.contentType)
  const length = range ? range.end - range.start + 1 : info.size
  reply.header('content-length', length)
  if (range) {
    reply.code(206)
    reply.header('content-range', `bytes ${range.start}-${range.end}/${info.size}`)
  }
  if (request.method === 'HEAD') {
    await reader.close()
    return reply.send()
  }
  // The bytes are written by the engine (it reuses its buffers: see FilesystemBlobs.sendTo), so
  // the reply is taken over from fastify here; its response hooks and log still run on finish.
  reply.hijack()
  const response = reply.raw
  response.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders)
  try {
    await reader.sendTo(response, range)
    response.end()
  } catch (error) {
    // The headers are out: a failure can only cut the response short.
    if (!response.destroyed) request.log.error({ err: error }, 'file download failed')
    response.destroy()
  }
  return reply
}
