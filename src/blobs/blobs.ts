import type { Readable, Writable } from 'node:stream'

/**
 * Object storage for the files API (SPEC §9): bytes plus a little metadata, under a key in a
 * space (one space per domain). `filesystem-blobs.ts` keeps them under the data directory
 * (embedded mode), `nats-object-blobs.ts` in a JetStream object store (cluster mode).
 *
 * Keys are opaque to an engine: callers validate and normalise them (files/file-paths.ts), and
 * an engine never lets a key become a location of its own (no key is ever a file system path or
 * an object name).
 *
 * Promises every engine keeps (blobs.contract.ts):
 * - `put` is atomic: a reader sees the old bytes or the new ones, never a mix or a part. A put
 *   that fails (too large, aborted, a broken body) leaves the previous blob, or none, and no trace
 *   (the NATS engine: none that a reader or a listing sees; chunks it cannot purge at once, as
 *   when NATS is unreachable or its node dies, are collected later).
 * - A reader opened before a `put` or `remove` keeps reading the version it opened (the NATS
 *   engine: for `retainMs` after the replacement, an hour by default; a read that takes longer
 *   fails, it never yields other bytes).
 * - `list` is ordered by key (code unit order) and sees every completed `put`.
 */
export interface Blobs {
  /**
   * Stores `body` under `key`, replacing what was there. Rejects with `BlobTooLargeError` as soon
   * as more than `maxBytes` arrive (nothing is stored), with `BlobUnsafeError` when the place is not
   * safe to write (a symbolic link), or with the body's own error.
   */
  put(space: string, key: string, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: PutOptions): Promise<BlobInfo>
  /** The blob for reading, or undefined when there is none. */
  open(space: string, key: string): Promise<BlobReader | undefined>
  stat(space: string, key: string): Promise<BlobInfo | undefined>
  /** Removes the blob; answers what it was, or undefined when there was none. */
  remove(space: string, key: string): Promise<BlobInfo | undefined>
  /** Blobs whose key starts with `prefix`, in key order: `limit` of them from `offset`, and how many match. */
  list(space: string, query: ListBlobs): Promise<{ readonly items: BlobInfo[]; readonly total: number }>
  /** Keys in the space (all of them; for checks such as "is this domain empty"). */
  count(space: string): Promise<number>
  close(): Promise<void>
}

export interface PutOptions {
  /** Stored as is and given back by `open`, `stat` and `list`. */
  readonly contentType: string
  /** Largest body accepted, bytes. */
  readonly maxBytes: number
}

export interface ListBlobs {
  /** '' lists everything. */
  readonly prefix: string
  readonly offset: number
  readonly limit: number
}

export interface BlobInfo {
  readonly key: string
  readonly size: number
  readonly contentType: string
  /** A strong entity tag, quotes included (`"…"`): it changes whenever the bytes do. */
  readonly etag: string
  /** When the blob was stored, RFC 3339 UTC. */
  readonly mtime: string
}

/** An open blob. Either `stream` it or `sendTo` somewhere (each owns the reader then), or `close` it. */
export interface BlobReader {
  readonly info: BlobInfo
  /** The bytes from `start` to `end` inclusive (default: all of them). */
  stream(range?: ByteRange): Readable
  /**
   * Writes the bytes (all, or the range) to `destination`, waiting for each write to complete:
   * the download path, where an engine may reuse its buffers. Resolves when the last byte is
   * written (`destination` is not ended); rejects if `destination` closes first.
   */
  sendTo(destination: Writable, range?: ByteRange): Promise<void>
  close(): Promise<void>
}

export interface ByteRange {
  readonly start: number
  /** Inclusive. */
  readonly end: number
}

/** More bytes arrived than `PutOptions.maxBytes` allows. */
export class BlobTooLargeError extends Error {
  override readonly name = 'BlobTooLargeError'
  readonly maxBytes: number
  constructor(maxBytes: number) {
    super(`the body is larger than ${maxBytes} bytes`)
    this.maxBytes = maxBytes
  }
}

/** The blob's place in the engine is not what the engine made (a symbolic link): nothing was read or changed. */
export class BlobUnsafeError extends Error {
  override readonly name = 'BlobUnsafeError'
}
