import type { Channel } from '../channels/channel-schemas.ts'
import { AppError } from '../errors.ts'

/**
 * `opts.allow_files_api` is a channel token's authority over its domain's files (SPEC §3, §9):
 * every door the token itself opens obeys it — `/files`, and the websocket `files` capability,
 * whose links serve without auth. Checked on the channel as it is at each request. Scripts are
 * the domain's own code, not the token holder's: `files.*` works in every script (docs/files.md).
 */
export function assertFilesAllowed(channel: Channel): void {
  if (!channel.opts.allow_files_api) {
    throw new AppError('forbidden', 'the channel does not allow the files API (opts.allow_files_api)')
  }
}
