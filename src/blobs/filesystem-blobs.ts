import { createHash, randomUUID } from 'node:crypto'
import { constants, type Dirent } from 'node:fs'
import { type FileHandle, lstat, mkdir, open, readdir, realpath, rename, rm, rmdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import {
  type BlobInfo,
  type BlobReader,
  type Blobs,
  BlobTooLargeError,
  BlobUnsafeError,
  type ListBlobs,
  type PutOptions,
} from './blobs.ts'

/**
 * Blobs as files under a root directory (embedded mode: `<data dir>/files`).
 *
 * Layout: `<root>/<space>/<hh>/<sha256 of the key>`, one file per blob: the bytes, then a trailer
 * `[metadata JSON][u32 BE length]["SBB1"]`. A key never becomes a path, so no key can lead out
 * of its space (`..`, absolute paths, encodings all hash to a plain name), and key and metadata
 * travel in the same file as the bytes: one rename replaces all three at once.
 *
 * Writes go to `<root>/.tmp/<uuid>`, are flushed (fsync), then renamed into place (atomic on one
 * file system); the directory is flushed too. Reads open the file with O_NOFOLLOW, so a symbolic
 * link planted in the tree is refused (`BlobUnsafeError`) rather than followed; the open handle
 * keeps the version it opened even if a put replaces it meanwhile.
 */
export class FilesystemBlobs implements Blobs {
  readonly #root: string
  readonly #tmp: string

  private constructor(root: string) {
    this.#root = root
    this.#tmp = join(root, '.tmp')
  }

  /** Opens (creating) the root; temporary files left by a process that died are removed. */
  static async open(root: string): Promise<FilesystemBlobs> {
    await mkdir(root, { recursive: true, mode: 0o700 })
    const blobs = new FilesystemBlobs(await realpath(root))
    await rm(blobs.#tmp, { recursive: true, force: true })
    await mkdir(blobs.#tmp, { mode: 0o700 })
    return blobs
  }

  async put(
    space: string,
    key: string,
    body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: PutOptions,
  ): Promise<BlobInfo> {
    const { dir, file } = this.#place(space, key)
    // Checked before the body is read, made only when it is complete: a refused put leaves no directory.
    if (await this.#directory(space, dir, false)) await refuseLink(file)
    const temp = join(this.#tmp, randomUUID())
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
    let info: BlobInfo
    try {
      const hash = createHash('sha256')
      let size = 0
      for await (const chunk of body) {
        size += chunk.byteLength
        if (size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes)
        hash.update(chunk)
        await writeAll(handle, chunk)
      }
      info = {
        key,
        size,
        contentType: options.contentType,
        etag: `"${hash.digest('base64url')}"`,
        mtime: new Date().toISOString(),
      }
      await writeAll(handle, trailer(info))
      await handle.datasync()
    } catch (error) {
      await handle.close()
      await unlink(temp).catch(() => {})
      throw error
    }
    await handle.close()
    try {
      // A remove may take away an emptied shard directory between its making and the rename: again.
      for (let attempt = 1; ; attempt++) {
        await this.#directory(space, dir, true)
        await refuseLink(file)
        try {
          await rename(temp, file)
          break
        } catch (error) {
          if (codeOf(error) !== 'ENOENT' || attempt === 3) throw error
        }
      }
    } catch (error) {
      await unlink(temp).catch(() => {})
      throw error
    }
    await syncDirectory(dir)
    return info
  }

  async open(space: string, key: string): Promise<BlobReader | undefined> {
    const { dir, file } = this.#place(space, key)
    if (!(await this.#directory(space, dir, false))) return undefined
    const handle = await openForReading(file)
    if (!handle) return undefined
    try {
      const info = await readTrailer(handle)
      if (info.key !== key) throw new Error(`blob ${file} holds another key`)
      return reader(handle, info)
    } catch (error) {
      await handle.close()
      throw error
    }
  }

  async stat(space: string, key: string): Promise<BlobInfo | undefined> {
    const opened = await this.open(space, key)
    await opened?.close()
    return opened?.info
  }

  async remove(space: string, key: string): Promise<BlobInfo | undefined> {
    const { dir, file } = this.#place(space, key)
    if (!(await this.#directory(space, dir, false))) return undefined
    const info = await this.stat(space, key)
    if (!info) return undefined
    try {
      await unlink(file)
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return undefined
      throw error
    }
    await syncDirectory(dir)
    // An emptied shard directory goes too (a put that needs it makes it again).
    await rmdir(dir).catch(() => {})
    return info
  }

  async list(space: string, query: ListBlobs): Promise<{ items: BlobInfo[]; total: number }> {
    const files = await this.#files(space)
    const infos = await mapLimited(files, 32, async (file) => {
      const handle = await openForReading(file).catch((error: unknown) => {
        if (error instanceof BlobUnsafeError) return undefined
        throw error
      })
      if (!handle) return undefined
      try {
        return await readTrailer(handle)
      } finally {
        await handle.close()
      }
    })
    const matching = infos
      .filter((info): info is BlobInfo => info?.key.startsWith(query.prefix) === true)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return { items: matching.slice(query.offset, query.offset + query.limit), total: matching.length }
  }

  async count(space: string): Promise<number> {
    return (await this.#files(space)).length
  }

  async close(): Promise<void> {}

  #place(space: string, key: string): { dir: string; file: string } {
    if (!SPACE.test(space)) throw new Error(`not a blob space name: ${JSON.stringify(space)}`)
    const name = createHash('sha256').update(key).digest('hex')
    const dir = join(this.#root, space, name.slice(0, 2))
    return { dir, file: join(dir, name) }
  }

  /**
   * Whether the space's shard directory `dir` exists (creating it when `create`); neither it nor
   * the space directory may be a symbolic link.
   */
  async #directory(space: string, dir: string, create: boolean): Promise<boolean> {
    for (const path of [join(this.#root, space), dir]) {
      const stats = await lstat(path).catch((error: unknown) => {
        if (codeOf(error) === 'ENOENT') return undefined
        throw error
      })
      if (stats?.isDirectory()) continue
      if (stats) throw new BlobUnsafeError('the file space holds something that is not a directory there')
      if (!create) return false
      await mkdir(path, { mode: 0o700 }).catch((error: unknown) => {
        if (codeOf(error) !== 'EEXIST') throw error
      })
    }
    return true
  }

  /** Every blob file of a space (directories and links that the engine did not make are skipped). */
  async #files(space: string): Promise<string[]> {
    if (!SPACE.test(space)) throw new Error(`not a blob space name: ${JSON.stringify(space)}`)
    const spaceDir = join(this.#root, space)
    const shards = await entries(spaceDir)
    const files: string[] = []
    for (const shard of shards) {
      if (!shard.isDirectory() || !SHARD.test(shard.name)) continue
      const shardDir = join(spaceDir, shard.name)
      for (const entry of await entries(shardDir)) {
        if (entry.isFile() && BLOB_NAME.test(entry.name)) files.push(join(shardDir, entry.name))
      }
    }
    return files
  }
}

const SPACE = /^[A-Za-z0-9_-]{1,128}$/
const SHARD = /^[0-9a-f]{2}$/
const BLOB_NAME = /^[0-9a-f]{64}$/
const MAGIC = Buffer.from('SBB1')
/** The trailer's fixed end: the metadata length (u32 BE) and the magic. */
const TAIL_BYTES = 8
/** Read at once from the end of a blob: the metadata of any key a caller allows fits. */
const TAIL_READ = 4096

interface StoredMeta {
  readonly key: string
  readonly size: number
  readonly content_type: string
  readonly etag: string
  readonly mtime: string
}

function trailer(info: BlobInfo): Buffer {
  const meta: StoredMeta = {
    key: info.key,
    size: info.size,
    content_type: info.contentType,
    etag: info.etag,
    mtime: info.mtime,
  }
  const json = Buffer.from(JSON.stringify(meta))
  const tail = Buffer.alloc(TAIL_BYTES)
  tail.writeUInt32BE(json.length, 0)
  MAGIC.copy(tail, 4)
  return Buffer.concat([json, tail])
}

async function readTrailer(handle: FileHandle): Promise<BlobInfo> {
  const { size: fileSize } = await handle.stat()
  const want = Math.min(fileSize, TAIL_READ)
  let tail = Buffer.alloc(want)
  await readAll(handle, tail, fileSize - want)
  if (want < TAIL_BYTES || !tail.subarray(want - 4).equals(MAGIC)) throw new Error('a blob file without its trailer')
  const length = tail.readUInt32BE(want - TAIL_BYTES)
  if (length + TAIL_BYTES > fileSize) throw new Error('a blob file with a broken trailer')
  if (length + TAIL_BYTES > want) {
    tail = Buffer.alloc(length + TAIL_BYTES)
    await readAll(handle, tail, fileSize - tail.length)
  }
  const json = tail.subarray(tail.length - TAIL_BYTES - length, tail.length - TAIL_BYTES)
  const meta = JSON.parse(json.toString('utf8')) as StoredMeta
  if (meta.size !== fileSize - TAIL_BYTES - length) throw new Error('a blob file whose size does not match its trailer')
  return { key: meta.key, size: meta.size, contentType: meta.content_type, etag: meta.etag, mtime: meta.mtime }
}

function reader(handle: FileHandle, info: BlobInfo): BlobReader {
  let taken = false
  return {
    info,
    stream(range) {
      if (taken) throw new Error('a blob reader streams once')
      taken = true
      const start = range?.start ?? 0
      const end = range?.end ?? info.size - 1
      if (end < start) {
        void handle.close()
        return Readable.from([])
      }
      // The trailer is never part of the bytes: `end` is within the blob.
      return handle.createReadStream({ start, end: Math.min(end, info.size - 1), autoClose: true })
    },
    async close() {
      if (taken) return
      taken = true
      await handle.close()
    },
  }
}

async function openForReading(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (error) {
    const code = codeOf(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    if (code === 'ELOOP') throw new BlobUnsafeError('the blob is a symbolic link', { cause: error })
    throw error
  }
}

async function refuseLink(file: string): Promise<void> {
  const stats = await lstat(file).catch((error: unknown) => {
    if (codeOf(error) === 'ENOENT') return undefined
    throw error
  })
  if (stats && !stats.isFile()) throw new BlobUnsafeError('the blob is not a plain file (a symbolic link?)')
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true })
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return []
    throw error
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset)
    offset += bytesWritten
  }
}

async function readAll(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  let offset = 0
  while (offset < into.length) {
    const { bytesRead } = await handle.read(into, offset, into.length - offset, position + offset)
    if (bytesRead === 0) throw new Error('a blob file ended early')
    offset += bytesRead
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      out[index] = await fn(items[index] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code
}
