import { AppError } from '../../errors.ts'
import { normaliseFilePath } from '../../files/file-paths.ts'
import type { FileSpaces } from '../../files/file-spaces.ts'
import type { FrameHandler } from '../ws-connection.ts'

/**
 * The `files` capability (SPEC §6.4, §9): `["file_get_link", {qid, path}]` →
 * `["file_get_link_result", {qid, result: "ok", url}]`, a temporary link (`/temp/<secret>`, the
 * path on this server) to a file of the channel's domain. A link serves without auth, so it is a
 * door to the files like `/files`: the channel needs `opts.allow_files_api` besides the capability
 * (the capability gate checks it before each frame, and lists `files` in connection_info only then).
 */
export function filesCapability({ files }: { files: FileSpaces }): Record<string, FrameHandler> {
  return {
    file_get_link: {
      capability: 'files',
      async handle(connection, payload, qid) {
        if (typeof payload.path !== 'string') throw new AppError('bad_request', 'file_get_link needs the path of a file')
        const url = await files.tempLink(connection.domainId, normaliseFilePath(payload.path))
        if (qid !== undefined) connection.send('file_get_link_result', { qid, result: 'ok', url })
      },
    },
  }
}
