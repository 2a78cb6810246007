import { type BlobInfo, type BlobReader, type Blobs, BlobTooLargeError, BlobUnsafeError } from '../blobs/blobs.ts'
import type { Actor, Operation } from '../collections/collection.ts'
import { AppError } from '../errors.ts'
import type { FileEntry } from './file-schemas.ts'
import type { TempLinks } from './temp-links.ts'

/** A change to a file, for the audit log. */
export interface FileChange {
  readonly domainId: string
  readonly actor: Actor
  readonly operation: Operation
  readonly path: string
}

export interface FileSpacesDeps {
  readonly blobs: Blobs
  readonly links: TempLinks
  /** Largest file, bytes (`SWITCHBOARD_FILES_MAX_BYTES`). */
  readonly maxBytes: number
  /** Told about every completed write and delete. */
  readonly changed: (change: FileChange) => Promise<void>
}

export interface WriteResult {
  readonly entry: FileEntry
  readonly etag: string
  /** True when there was no file at the path before. */
  readonly created: boolean
}

/**
 * The domains' file spaces (SPEC §9): one space per domain, addressed by normalised paths
 * (file-paths.ts). The files API, the `files` script module and the websocket `files`
 * capability all come here. Paths must be normalised by the caller.
 */
export class FileSpaces {
  readonly #deps: FileSpacesDeps

  constructor(deps: FileSpacesDeps) {
    this.#deps = deps
  }

  get maxBytes(): number {
    return this.#deps.maxBytes
  }

  async write(
    domainId: string,
    path: string,
    body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    contentType: string,
    actor: Actor,
    maxBytes = this.#deps.maxBytes,
  ): Promise<WriteResult> {
    const { blobs } = this.#deps
    const before = await guarded(() => blobs.stat(domainId, path))
    let info: BlobInfo
    try {
      info = await guarded(() => blobs.put(domainId, path, body, { contentType, maxBytes }))
    } catch (error) {
      if (error instanceof BlobTooLargeError) {
        throw new AppError('payload_too_large', `the file is larger than ${error.maxBytes} bytes`, undefined, { cause: error })
      }
      throw error
    }
    const created = before === undefined
    await this.#deps.changed({ domainId, actor, operation: created ? 'create' : 'update', path })
    return { entry: entryOf(info), etag: info.etag, created }
  }

  /** The file for reading, or 1404. */
  async open(domainId: string, path: string): Promise<BlobReader> {
    const reader = await guarded(() => this.#deps.blobs.open(domainId, path))
    if (!reader) throw notFound(path)
    return reader
  }

  async stat(domainId: string, path: string): Promise<FileEntry> {
    const info = await guarded(() => this.#deps.blobs.stat(domainId, path))
    if (!info) throw notFound(path)
    return entryOf(info)
  }

  /** Deletes the file; answers what it was, or 1404. */
  async remove(domainId: string, path: string, actor: Actor): Promise<FileEntry> {
    const info = await guarded(() => this.#deps.blobs.remove(domainId, path))
    if (!info) throw notFound(path)
    await this.#deps.changed({ domainId, actor, operation: 'delete', path })
    return entryOf(info)
  }

  async list(domainId: string, prefix: string, offset: number, limit: number): Promise<{ items: FileEntry[]; total: number }> {
    const { items, total } = await this.#deps.blobs.list(domainId, { prefix, offset, limit })
    return { items: items.map(entryOf), total }
  }

  /** Files in the domain (a domain with files cannot be deleted). */
  count(domainId: string): Promise<number> {
    return this.#deps.blobs.count(domainId)
  }

  /** A temporary link (`/temp/<secret>`) to an existing file; 1404 when there is none. */
  async tempLink(domainId: string, path: string): Promise<string> {
    await this.stat(domainId, path)
    return this.#deps.links.create(domainId, path)
  }

  /** The file a temporary link opens, with its path; 1404 for an unknown or expired link, or a file gone since. */
  async openLink(secret: string): Promise<{ reader: BlobReader; path: string }> {
    const target = await this.#deps.links.resolve(secret)
    if (!target) throw new AppError('not_found', 'the link does not exist or has expired')
    const reader = await guarded(() => this.#deps.blobs.open(target.domainId, target.path))
    if (!reader) throw new AppError('not_found', 'the linked file no longer exists')
    return { reader, path: target.path }
  }
}

function entryOf(info: BlobInfo): FileEntry {
  return { path: info.key, size: info.size, content_type: info.contentType, mtime: info.mtime }
}

function notFound(path: string): AppError {
  return new AppError('not_found', `no file '${path}'`)
}

/** Runs a blob call; a place that is not what the engine made (a planted link) is 1400, never followed. */
async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (error instanceof BlobUnsafeError) {
      throw new AppError(
        'bad_request',
        "invalid file path: it leads out of the domain's file space (a symbolic link)",
        undefined,
        {
          cause: error,
        },
      )
    }
    throw error
  }
}
