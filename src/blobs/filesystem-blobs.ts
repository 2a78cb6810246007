import { createHash, randomUUID } from 'node:crypto'
import {
  close as closeCallback,
  constants,
  createReadStream,
  type Dirent,
  fstat as fstatCallback,
  open as openCallback,
  read,
} from 'node:fs'
import { type FileHandle, lstat, mkdir, open, readdir, realpath, rename, rm, rmdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable, type Writable } from 'node:stream'
import { promisify } from 'node:util'
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
 * link planted in the tree is refused (`BlobUnsafeError`) rather than followed; the open descriptor
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
      // The put's own error is the one to report; a temporary file left behind goes at the next open.
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
      // As above: the rename's error is the one to report.
      await unlink(temp).catch(() => {})
      throw error
    }
    await syncDirectory(dir)
    return info
  }

  async open(space: string, key: string): Promise<BlobReader | undefined> {
    const { dir, file } = this.#place(space, key)
    if (!(await this.#directory(space, dir, false))) return undefined
    const fd = await openForReading(file)
    if (fd === undefined) return undefined
    try {
      const info = await readTrailer(fd)
      if (info.key !== key) throw new Error(`blob ${file} holds another key`)
      return reader(fd, info)
    } catch (error) {
      await closeFd(fd)
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
    // An emptied shard directory goes too (a put that needs it makes it again); one that still
    // holds blobs refuses, which is the point.
    await rmdir(dir).catch(() => {})
    return info
  }

  async list(space: string, query: ListBlobs): Promise<{ items: BlobInfo[]; total: number }> {
    const files = await this.#files(space)
    const infos = await mapLimited(files, 32, async (file) => {
      const fd = await openForReading(file).catch((error: unknown) => {
        if (error instanceof BlobUnsafeError) return undefined
        throw error
      })
      if (fd === undefined) return undefined
      try {
        return await readTrailer(fd)
      } finally {
        await closeFd(fd)
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
/**
 * Bytes read at a time when streaming a blob. 256 KiB instead of the stream default of 64 KiB:
 * a quarter of the reads and buffer allocations; reading a 50 MiB file into a null sink took
 * 0.47 instead of 0.69 ms of CPU per MiB here.
 */
const READ_CHUNK = 256 * 1024
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

async function readTrailer(fd: number): Promise<BlobInfo> {
  const { size: fileSize } = await fstatFd(fd)
  const want = Math.min(fileSize, TAIL_READ)
  let tail = Buffer.alloc(want)
  await readAll(fd, tail, fileSize - want)
  if (want < TAIL_BYTES || !tail.subarray(want - 4).equals(MAGIC)) throw new Error('a blob file without its trailer')
  const length = tail.readUInt32BE(want - TAIL_BYTES)
  if (length + TAIL_BYTES > fileSize) throw new Error('a blob file with a broken trailer')
  if (length + TAIL_BYTES > want) {
    tail = Buffer.alloc(length + TAIL_BYTES)
    await readAll(fd, tail, fileSize - tail.length)
  }
  const json = tail.subarray(tail.length - TAIL_BYTES - length, tail.length - TAIL_BYTES)
  const meta = JSON.parse(json.toString('utf8')) as StoredMeta
  if (meta.size !== fileSize - TAIL_BYTES - length) throw new Error('a blob file whose size does not match its trailer')
  return { key: meta.key, size: meta.size, contentType: meta.content_type, etag: meta.etag, mtime: meta.mtime }
}

/**
 * A reader on a plain descriptor, which the stream closes when it ends or is destroyed. (A
 * stream over a FileHandle reads through its promise API: twice the CPU per MiB served in
 * bench/files.ts.)
 */
function reader(fd: number, info: BlobInfo): BlobReader {
  let taken = false
  const take = () => {
    if (taken) throw new Error('a blob reader is used once')
    taken = true
  }
  return {
    info,
    stream(range) {
      take()
      const start = range?.start ?? 0
      const end = range?.end ?? info.size - 1
      if (end < start) {
        void closeFd(fd)
        return Readable.from([])
      }
      // The trailer is never part of the bytes: `end` stays within the blob.
      return createReadStream('', { fd, start, end: Math.min(end, info.size - 1), autoClose: true, highWaterMark: READ_CHUNK })
    },
    async sendTo(destination, range) {
      take()
      try {
        await sendRange(fd, destination, range?.start ?? 0, Math.min(range?.end ?? info.size - 1, info.size - 1))
      } finally {
        await closeFd(fd)
      }
    },
    async close() {
      if (taken) return
      taken = true
      await closeFd(fd)
    },
  }
}

/**
 * Copies bytes `start`…`end` of `fd` to `destination` through two buffers that are reused: one
 * is read into while the other is being written, and a buffer is read into again only once its
 * write has completed. A stream allocates a buffer per chunk instead, and in a process with a
 * large heap those allocations cost more than the copy: each makes V8's full collections come
 * sooner (a 50 MiB download took 7 ms of CPU per MiB beside a 270 MB heap, 0.5 beside a small
 * one). Rejects when `destination` closes (a client that went away) before the end.
 */
async function sendRange(fd: number, destination: Writable, start: number, end: number): Promise<void> {
  if (end < start) return
  let closed: (() => void) | undefined
  const gone = new Promise<never>((_resolve, reject) => {
    closed = () => reject(new Error('the destination closed before the end'))
    destination.once('close', closed)
  })
  // Raced below; once the copy ends nobody waits for it, and a late close must not be unhandled.
  gone.catch(() => {})
  const buffers = [takeBuffer(), takeBuffer()]
  const writes: (Promise<void> | undefined)[] = [undefined, undefined]
  const written = [true, true]
  try {
    let position = start
    for (let i = 0; position <= end; i ^= 1) {
      if (writes[i]) await Promise.race([writes[i], gone])
      const buffer = buffers[i] as Buffer
      const count = await readFd(fd, buffer, 0, Math.min(buffer.length, end - position + 1), position)
      if (count === 0) throw new Error('a blob file ended early')
      position += count
      const chunk = count === buffer.length ? buffer : buffer.subarray(0, count)
      const slot = i
      written[slot] = false
      writes[slot] = new Promise<void>((resolve, reject) => {
        destination.write(chunk, (error?: Error | null) => {
          if (error) return reject(error)
          written[slot] = true
          resolve()
        })
      })
      // Awaited below: this only keeps a failure from being unhandled meanwhile.
      writes[slot]?.catch(() => {})
    }
    await Promise.race([Promise.all(writes), gone])
  } finally {
    if (closed) destination.removeListener('close', closed)
    // A buffer whose write has not completed may still be read by the socket: never reused.
    buffers.forEach((buffer, i) => {
      if (written[i]) giveBuffer(buffer)
    })
  }
}

/** Buffers of finished downloads, kept for the next ones (a few; the rest are collected). */
const spareBuffers: Buffer[] = []
const MAX_SPARE_BUFFERS = 16

function takeBuffer(): Buffer {
  return spareBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK)
}

function giveBuffer(buffer: Buffer): void {
  if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buffer)
}

async function openForReading(file: string): Promise<number | undefined> {
  try {
    return await openFd(file, constants.O_RDONLY | constants.O_NOFOLLOW)
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

async function readAll(fd: number, into: Buffer, position: number): Promise<void> {
  let offset = 0
  while (offset < into.length) {
    const bytesRead = await readFd(fd, into, offset, into.length - offset, position + offset)
    if (bytesRead === 0) throw new Error('a blob file ended early')
    offset += bytesRead
  }
}

const openFd = promisify(openCallback)
const closeFd = promisify(closeCallback)
const fstatFd = promisify(fstatCallback)
const readFd = (fd: number, into: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) => {
    read(fd, into, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)))
  })

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
