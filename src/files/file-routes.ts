import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ChannelAccess } from '../channels/channel-access.ts'
import type { ChannelEntry } from '../channels/channel-directory.ts'
import { AppError, invalidField } from '../errors.ts'
import { bearerToken } from '../http/bearer-token.ts'
import { openApiRoute } from '../http/openapi.ts'
import { errorResponses } from '../http/shared-schemas.ts'
import type { IpRanges } from '../net/ip-ranges.ts'
import { senderIp } from '../webhooks/sender-ip.ts'
import { contentTypeFor } from './content-types.ts'
import { assertFilesAllowed } from './file-access.ts'
import { filePathFromUrl, normalisePrefix } from './file-paths.ts'
import { DEFAULT_LIST_LIMIT, FileEntry, FileListQuery, MAX_LIST_LIMIT } from './file-schemas.ts'
import { sendBlob } from './file-serving.ts'
import type { FileSpaces } from './file-spaces.ts'

export interface FileRoutesOptions {
  readonly files: FileSpaces
  readonly access: ChannelAccess
  readonly trustProxy: IpRanges
}

const FILES = '/files/'
const tags = ['files']
const security = [{ channelToken: [] }]
const Bytes = Type.String({ contentMediaType: 'application/octet-stream' })
/** A download: the bytes, with the Content-Type the file was uploaded with. */
const FileBytes = { description: 'the bytes, with the Content-Type given at upload', content: { '*/*': { schema: Bytes } } }
const PartOfFile = { description: 'the bytes of the Range asked for (Content-Range)', content: { '*/*': { schema: Bytes } } }
const UploadBody = Type.String({
  description: "the file's bytes, any Content-Type (kept as the file's type); at most SWITCHBOARD_FILES_MAX_BYTES",
  contentMediaType: 'application/octet-stream',
})
const SecretParams = Type.Object({ secret: Type.String() }, { additionalProperties: false })

/** The URL path after `/files/`, still percent-encoded. */
function rawFilePath(request: FastifyRequest): string {
  const url = request.url
  const question = url.indexOf('?')
  return (question === -1 ? url : url.slice(0, question)).slice(FILES.length)
}

/**
 * The files API (SPEC §9) for holders of a channel token whose channel has
 * `opts.allow_files_api`, and the temporary links `/temp/<secret>` (no auth). The token, the
 * `ipmask` and the option are checked before the body is read; uploads stream to the blob engine
 * without being held in memory.
 */
export function fileRoutes(app: FastifyInstance, options: FileRoutesOptions): void {
  const { files } = options

  app.register(async (scope) => {
    // Uploads are streams: no parser reads the body, the PUT handler hands it to the engine.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null))

    const opened = new WeakMap<FastifyRequest, ChannelEntry>()
    const uploadTypes = new WeakMap<FastifyRequest, string>()
    scope.addHook('onRequest', async (request) => {
      const token = bearerToken(request.headers.authorization)
      const ip = senderIp(request.socket.remoteAddress, request.headers['x-forwarded-for'], options.trustProxy)
      const entry = options.access.open(token, ip, '')
      assertFilesAllowed(entry.channel)
      opened.set(request, entry)
      // The upload's Content-Type is the file's, checked by contentTypeFor: fastify must not refuse
      // it (415) as it would for a body it cannot parse.
      const type = request.headers['content-type']
      if (type !== undefined) {
        uploadTypes.set(request, type)
        delete request.headers['content-type']
      }
    })
    // A refused upload's body is not read (nor drained by Node for keep-alive, which would take
    // in a hostile client's gigabytes): the connection closes after the error instead.
    scope.addHook('onError', async (request, reply) => {
      if (!request.raw.complete) reply.header('connection', 'close')
    })
    const channelOf = (request: FastifyRequest) => opened.get(request) as ChannelEntry
    const actorOf = (entry: ChannelEntry) => ({ kind: 'channel' as const, id: entry.channel.id })

    const list = async (request: FastifyRequest, reply: FastifyReply) => {
      const query = request.query as FileListQuery
      const limit = query.limit === undefined ? DEFAULT_LIST_LIMIT : Number(query.limit)
      if (limit > MAX_LIST_LIMIT) throw invalidField('limit', `must be at most ${MAX_LIST_LIMIT}`)
      const prefix = normalisePrefix(query.prefix ?? '')
      const { items, total } = await files.list(channelOf(request).domainId, prefix, Number(query.offset ?? 0), limit)
      reply.header('x-total-count', total)
      return items
    }
    for (const url of ['/files', '/files/']) {
      scope.get(
        url,
        {
          schema: {
            tags,
            security,
            operationId: 'listFiles',
            summary: 'List the files of the domain, by path, optionally those under a prefix',
            querystring: FileListQuery,
            response: {
              200: { ...Type.Array(FileEntry), headers: { 'x-total-count': Type.Integer() } },
              ...errorResponses(400, 401, 403, 404),
            },
          },
        },
        list,
      )
    }

    scope.route({
      method: ['GET', 'HEAD'],
      url: '/files/*',
      schema: {
        tags,
        security,
        operationId: 'downloadFile',
        summary: 'Download a file (Range, If-None-Match, If-Range supported)',
        response: { 200: FileBytes, 206: PartOfFile, ...errorResponses(400, 401, 403, 404, 416) },
      },
      handler: async (request, reply) => {
        const path = filePathFromUrl(rawFilePath(request))
        return sendBlob(request, reply, await files.open(channelOf(request).domainId, path), path)
      },
    })

    scope.put(
      '/files/*',
      {
        // The body is streamed to the engine, never parsed: it is described here, not validated.
        config: {
          swaggerTransform: ({ schema, url }) =>
            openApiRoute({ schema: { ...schema, body: UploadBody, consumes: ['application/octet-stream'] }, url }),
        },
        schema: {
          tags,
          security,
          operationId: 'uploadFile',
          summary: 'Upload a file (the body, streamed); 201 when it is new, 200 when it replaced one',
          response: { 200: FileEntry, 201: FileEntry, ...errorResponses(400, 401, 403, 413) },
        },
      },
      async (request, reply) => {
        const path = filePathFromUrl(rawFilePath(request))
        const contentType = contentTypeFor(path, uploadTypes.get(request))
        const declared = Number(request.headers['content-length'] ?? 0)
        if (declared > files.maxBytes) throw new AppError('payload_too_large', `the file is larger than ${files.maxBytes} bytes`)
        const entry = channelOf(request)
        const result = await files.write(entry.domainId, path, request.raw, contentType, actorOf(entry))
        reply.header('etag', result.etag)
        return reply.code(result.created ? 201 : 200).send(result.entry)
      },
    )

    scope.delete(
      '/files/*',
      {
        schema: {
          tags,
          security,
          operationId: 'deleteFile',
          summary: 'Delete a file; answers what it was',
          response: { 200: FileEntry, ...errorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        const entry = channelOf(request)
        return files.remove(entry.domainId, filePathFromUrl(rawFilePath(request)), actorOf(entry))
      },
    )
  })

  app.route({
    method: ['GET', 'HEAD'],
    url: '/temp/:secret',
    schema: {
      tags,
      security: [],
      operationId: 'downloadTempLink',
      summary: 'Download the file of a temporary link (no auth; the link expires)',
      params: SecretParams,
      response: { 200: FileBytes, 206: PartOfFile, ...errorResponses(404, 416) },
    },
    handler: async (request, reply) => {
      const { reader, path } = await files.openLink((request.params as { secret: string }).secret)
      return sendBlob(request, reply, reader, path)
    },
  })
}
