import { Readable, type Writable } from 'node:stream'
import type { BlobInfo, BlobReader, ByteRange } from './blobs.ts'

/** Where the chunks of one stored version are: what `NatsObjectBlobs.open` read from its object info. */
export interface ChunkMap {
  /** The chunks' subject, `$O.<bucket>.C.<nuid>`. */
  readonly subject: string
  /** Bytes per chunk; every chunk but the last is full. */
  readonly chunkBytes: number
  /** The stream sequence of each chunk, in order. */
  readonly seqs: readonly number[]
}

/** Fetches one stored message by its stream sequence; null when the stream no longer has it. */
export type FetchMessage = (seq: number) => Promise<{ readonly subject: string; readonly data: Uint8Array } | null>

/**
 * Chunks fetched ahead of the one being written. One and three ahead gave the same throughput
 * and CPU per MiB on bench/files.ts here; three ride out a slow round trip.
 */
const FETCH_AHEAD = 3

/**
 * A reader of one version of an object: its chunks are fetched by sequence (a JetStream direct
 * get each, a few ahead of the one being written), so only the chunks a range covers are read,
 * and a reader never holds more than `FETCH_AHEAD + 1` chunks. The version is the one the reader
 * was opened on: its chunks stay in the stream for a while after a put replaces it or a remove
 * takes it (see NatsObjectBlobs), and a chunk that is gone fails the read rather than giving
 * other bytes.
 */
export function objectReader(info: BlobInfo, chunks: ChunkMap, fetch: FetchMessage): BlobReader {
  let taken = false
  const take = () => {
    if (taken) throw new Error('a blob reader is used once')
    taken = true
  }
  const bounds = (range: ByteRange | undefined) => ({
    start: range?.start ?? 0,
    end: Math.min(range?.end ?? info.size - 1, info.size - 1),
  })
  return {
    info,
    stream(range) {
      take()
      const { start, end } = bounds(range)
      if (end < start) return Readable.from([])
      const queue = new ChunkQueue(info, chunks, fetch, start, end)
      return new Readable({
        read() {
          const next = queue.next()
          if (!next) {
            this.push(null)
            return
          }
          next.then(
            (bytes) => this.push(bytes),
            (error: unknown) => this.destroy(error as Error),
          )
        },
      })
    },
    async sendTo(destination, range) {
      take()
      const { start, end } = bounds(range)
      if (end < start) return
      await send(new ChunkQueue(info, chunks, fetch, start, end), destination)
    },
    async close() {
      taken = true
    },
  }
}

/**
 * The bytes `start`…`end` of a version, chunk by chunk, each fetched `FETCH_AHEAD` chunks before
 * it is taken. A fetch that fails fails the take of its chunk (never an unhandled rejection).
 */
class ChunkQueue {
  readonly #info: BlobInfo
  readonly #chunks: ChunkMap
  readonly #fetch: FetchMessage
  readonly #start: number
  readonly #end: number
  readonly #last: number
  readonly #ahead: Promise<Uint8Array>[] = []
  #fetched: number
  #taken: number

  constructor(info: BlobInfo, chunks: ChunkMap, fetch: FetchMessage, start: number, end: number) {
    this.#info = info
    this.#chunks = chunks
    this.#fetch = fetch
    this.#start = start
    this.#end = end
    this.#fetched = Math.floor(start / chunks.chunkBytes)
    this.#taken = this.#fetched
    this.#last = Math.floor(end / chunks.chunkBytes)
  }

  /** The next chunk's bytes (cut to the range), or undefined past the end. */
  next(): Promise<Uint8Array> | undefined {
    if (this.#taken > this.#last) return undefined
    while (this.#fetched <= this.#last && this.#ahead.length <= FETCH_AHEAD) {
      const fetching = this.#chunk(this.#fetched++)
      // Awaited when its turn comes (next): this only keeps a failure from being unhandled meanwhile.
      fetching.catch(() => {})
      this.#ahead.push(fetching)
    }
    this.#taken++
    return this.#ahead.shift()
  }

  async #chunk(index: number): Promise<Uint8Array> {
    const { chunkBytes, seqs, subject } = this.#chunks
    const seq = seqs[index]
    const message = seq === undefined ? null : await this.#fetch(seq)
    if (message === null || message.subject !== subject) {
      throw new Error('a chunk of the blob is gone: the version was replaced or removed longer ago than the engine keeps it')
    }
    const offset = index * chunkBytes
    const expected = Math.min(chunkBytes, this.#info.size - offset)
    if (message.data.byteLength !== expected)
      throw new Error(`a chunk of the blob has ${message.data.byteLength} bytes, not ${expected}`)
    const from = Math.max(0, this.#start - offset)
    const to = Math.min(expected, this.#end - offset + 1)
    return from === 0 && to === expected ? message.data : message.data.subarray(from, to)
  }
}

/**
 * Writes the queue's chunks to `destination` as they arrive, holding back while its buffer is
 * full ('drain'), and resolves once the last write has completed. Each chunk is a buffer of its
 * own from the NATS client, so nothing is reused here (unlike FilesystemBlobs' two buffers).
 * Rejects when `destination` closes before the end.
 */
async function send(queue: ChunkQueue, destination: Writable): Promise<void> {
  let closed: (() => void) | undefined
  const gone = new Promise<never>((_resolve, reject) => {
    closed = () => reject(new Error('the destination closed before the end'))
    destination.once('close', closed)
  })
  // Raced below; once the copy ends nobody waits for it, and a late close must not be unhandled.
  gone.catch(() => {})
  try {
    let written: Promise<void> = Promise.resolve()
    for (let next = queue.next(); next; next = queue.next()) {
      const bytes = await Promise.race([next, gone])
      let room = true
      written = new Promise<void>((resolve, reject) => {
        room = destination.write(bytes, (error?: Error | null) => (error ? reject(error) : resolve()))
      })
      // Awaited below or at the end: this only keeps a failure from being unhandled meanwhile.
      written.catch(() => {})
      // A destroyed destination answers false and calls back with its error: `written` ends the wait.
      if (!room) await Promise.race([new Promise((resolve) => destination.once('drain', resolve)), written, gone])
    }
    await Promise.race([written, gone])
  } finally {
    if (closed) destination.removeListener('close', closed)
  }
}
