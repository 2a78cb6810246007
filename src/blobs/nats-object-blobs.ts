import { createHash } from 'node:crypto'
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  JsHeaders,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream'
import { headers, type NatsConnection, nanos, nuid } from '@nats-io/nats-core'
import { Objm } from '@nats-io/obj'
import { type BlobInfo, type BlobReader, type Blobs, BlobTooLargeError, type ListBlobs, type PutOptions } from './blobs.ts'
import { type ChunkMap, objectReader } from './nats-object-reader.ts'

export interface NatsObjectBlobsOptions {
  /** Names the bucket, `<prefix>_files` (its stream is `OBJ_<prefix>_files`); as the bus's prefix. */
  readonly prefix: string
  /**
   * How long the chunks of a version that a put replaced or a remove took stay in the stream,
   * for the readers that opened it, ms. Also how old the chunks of a put that never finished (its
   * node died) are when they go. Default: an hour.
   */
  readonly retainMs?: number
  /** How often this node looks for chunks that no object refers to any more, ms. Default: `retainMs / 4`; 0: never (tests call `collectGarbage`). */
  readonly collectEveryMs?: number
  readonly onError: (error: unknown) => void
}

/** The object info of ADR-20 as the object store clients write it, with Switchboard's metadata. */
interface StoredInfo {
  readonly name: string
  readonly description?: string
  readonly headers?: Record<string, string[]>
  readonly options?: { readonly max_chunk_size?: number }
  readonly metadata?: { readonly key?: string; readonly seqs?: string }
  readonly bucket: string
  readonly nuid: string
  readonly size: number
  readonly chunks: number
  readonly mtime: string
  readonly digest?: string
  readonly deleted?: boolean
}

/**
 * Bytes per chunk (ADR-20's default is 128 KiB). Downloads cost the same CPU per MiB with 256 KiB
 * and 1 MiB chunks on bench/files.ts here (5-7 ms/MiB in the node; a profile: a quarter each in
 * the NATS client's parser, the garbage collector, since every chunk arrives in buffers of its
 * own, and socket writes). 256 KiB keeps what a Range reads beyond its bytes, and what a reader
 * holds, small.
 */
const CHUNK_BYTES = 256 * 1024
/** Chunk publishes of one put waiting for their acknowledgement at once. */
const PUBLISH_AHEAD = 4
const HOUR_MS = 3_600_000
const SPACE = /^[A-Za-z0-9_-]{1,128}$/
const DIGEST = 'SHA-256='

/**
 * Blobs in a JetStream object store (cluster mode): one bucket per installation, every domain's
 * files in it, in the layout of ADR-20, so `nats object ls|get` and the object store clients
 * read it too. The object of key `k` in space `s` is named `s/<sha256 of k, hex>`: no key
 * becomes a name of its own (no length or character limits to meet, and the JS client's names
 * must be Latin-1), spaces never meet, and the key, the content type and where each chunk is
 * travel in the object info (`metadata.key`, `headers.Content-Type`, `metadata.seqs`).
 *
 * A put publishes its chunks on a fresh nuid's subject, then the object info with a subject
 * rollup: that publish is the commit, so a reader finds the old version or the new one, whole.
 * The chunks of the replaced version are not purged at once, as the object store clients do:
 * a reader that opened it (on any node) is reading them. Nor are a removed object's: a remove
 * purges only its info. Chunks that no object info refers to are removed by `collectGarbage`
 * (every node runs it now and then) once this node has seen them unreferenced for `retainMs` and
 * their newest chunk is as old: a reader has that long to finish an old version. A put that
 * fails purges its own chunks at once; if even that fails, or its node dies, the collector takes
 * them later. A put whose body stalls for `retainMs / 2` fails, so the collector never takes the
 * chunks of a put that will still commit (given clocks within `retainMs / 2` of the server's).
 *
 * Reads fetch chunks by sequence (direct gets, objectReader), so a Range reads only the chunks it
 * covers. Listing reads the info of every object in the bucket (all domains) through one
 * consumer: it costs in proportion to the installation's files, not the domain's.
 */
export class NatsObjectBlobs implements Blobs {
  readonly #js: JetStreamClient
  readonly #jsm: JetStreamManager
  readonly #bucket: string
  readonly #stream: string
  readonly #chunkBytes: number
  readonly #retainMs: number
  readonly #onError: (error: unknown) => void
  /** Chunk subjects found unreferenced, and since when (this node's clock). */
  readonly #unreferenced = new Map<string, number>()
  #collector: NodeJS.Timeout | undefined
  #collecting: Promise<void> | undefined
  #closed = false

  private constructor(connection: NatsConnection, jsm: JetStreamManager, options: NatsObjectBlobsOptions) {
    this.#js = jetstream(connection)
    this.#jsm = jsm
    this.#bucket = `${options.prefix}_files`
    this.#stream = `OBJ_${this.#bucket}`
    this.#chunkBytes = Math.min(CHUNK_BYTES, connection.info?.max_payload ?? CHUNK_BYTES)
    this.#retainMs = options.retainMs ?? HOUR_MS
    this.#onError = options.onError
  }

  /** Makes sure the bucket exists (every node does; the first one creates it), and starts the collector. */
  static async open(connection: NatsConnection, options: NatsObjectBlobsOptions): Promise<NatsObjectBlobs> {
    const blobs = new NatsObjectBlobs(connection, await jetstreamManager(connection), options)
    await new Objm(connection).create(blobs.#bucket, { storage: StorageType.File })
    const every = options.collectEveryMs ?? blobs.#retainMs / 4
    if (every > 0) {
      blobs.#collector = setInterval(() => {
        blobs.collectGarbage().catch(blobs.#onError)
      }, every)
      blobs.#collector.unref()
    }
    return blobs
  }

  /** The bucket's name (its stream is `OBJ_<bucket>`). */
  get bucket(): string {
    return this.#bucket
  }

  async put(
    space: string,
    key: string,
    body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: PutOptions,
  ): Promise<BlobInfo> {
    const name = objectName(space, key)
    const subject = `$O.${this.#bucket}.C.${nuid.next()}`
    const stallMs = this.#retainMs / 2
    const hash = createHash('sha256')
    const seqs: number[] = []
    const acks: Promise<void>[] = []
    let size = 0
    let sentAt = performance.now()
    const publish = async (chunk: Uint8Array) => {
      if (seqs.length > 0 && performance.now() - sentAt > stallMs) {
        throw new Error(`the body stalled for more than ${Math.round(stallMs / 1000)} s`)
      }
      hash.update(chunk)
      const index = seqs.push(0) - 1
      const ack = this.#js.publish(subject, chunk).then((answer) => {
        seqs[index] = answer.seq
      })
      // Awaited below (acks): this only keeps a failure from being unhandled meanwhile.
      ack.catch(() => {})
      sentAt = performance.now()
      acks.push(ack)
      if (acks.length >= PUBLISH_AHEAD) await acks.shift()
    }
    try {
      let chunk = Buffer.allocUnsafe(this.#chunkBytes)
      let filled = 0
      for await (const part of body) {
        size += part.byteLength
        if (size > options.maxBytes) throw new BlobTooLargeError(options.maxBytes)
        for (let offset = 0; offset < part.byteLength; ) {
          const count = Math.min(this.#chunkBytes - filled, part.byteLength - offset)
          chunk.set(part.subarray(offset, offset + count), filled)
          filled += count
          offset += count
          if (filled === this.#chunkBytes) {
            await publish(chunk)
            chunk = Buffer.allocUnsafe(this.#chunkBytes)
            filled = 0
          }
        }
      }
      if (filled > 0) await publish(chunk.subarray(0, filled))
      await Promise.all(acks)
      if (seqs.length > 0 && performance.now() - sentAt > stallMs) {
        throw new Error(`the body stalled for more than ${Math.round(stallMs / 1000)} s`)
      }
    } catch (error) {
      await Promise.allSettled(acks)
      // Nothing refers to these chunks; if the purge fails too, the collector takes them later.
      await this.#jsm.streams.purge(this.#stream, { filter: subject }).catch(() => {})
      throw error
    }
    const digest = hash.digest()
    const mtime = new Date().toISOString()
    const stored: StoredInfo = {
      name,
      description: '',
      headers: { 'Content-Type': [options.contentType] },
      options: { max_chunk_size: this.#chunkBytes },
      metadata: { key, seqs: encodeSeqs(seqs) },
      bucket: this.#bucket,
      nuid: subject.slice(subject.lastIndexOf('.') + 1),
      size,
      chunks: seqs.length,
      mtime,
      digest: `${DIGEST}${paddedBase64Url(digest)}`,
      deleted: false,
    }
    const rollup = headers()
    rollup.set(JsHeaders.RollupHdr, JsHeaders.RollupValueSubject)
    // Should this fail after all (a timeout, with the info stored or not), the chunks stay for the collector.
    await this.#js.publish(this.#infoSubject(name), JSON.stringify(stored), { headers: rollup })
    return { key, size, contentType: options.contentType, etag: `"${digest.toString('base64url')}"`, mtime }
  }

  async open(space: string, key: string): Promise<BlobReader | undefined> {
    const found = await this.#info(space, key)
    if (!found) return undefined
    const { stored } = found
    const chunks: ChunkMap = {
      subject: `$O.${this.#bucket}.C.${stored.nuid}`,
      chunkBytes: stored.options?.max_chunk_size ?? this.#chunkBytes,
      seqs: decodeSeqs(stored.metadata?.seqs ?? ''),
    }
    if (chunks.seqs.length !== stored.chunks) throw new Error(`object ${stored.name} does not say where all its chunks are`)
    return objectReader(infoOf(stored), chunks, (seq) => this.#chunk(seq))
  }

  async stat(space: string, key: string): Promise<BlobInfo | undefined> {
    const found = await this.#info(space, key)
    return found && infoOf(found.stored)
  }

  async remove(space: string, key: string): Promise<BlobInfo | undefined> {
    const found = await this.#info(space, key)
    if (!found) return undefined
    // Only this revision of the info: a put that replaced it meanwhile stays. The chunks go with the collector.
    const { purged } = await this.#jsm.streams.purge(this.#stream, {
      filter: this.#infoSubject(found.stored.name),
      seq: found.revision + 1,
    })
    return purged > 0 ? infoOf(found.stored) : undefined
  }

  async list(space: string, query: ListBlobs): Promise<{ items: BlobInfo[]; total: number }> {
    const matching = (await this.#objects(space))
      .map(infoOf)
      .filter((info) => info.key.startsWith(query.prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    return { items: matching.slice(query.offset, query.offset + query.limit), total: matching.length }
  }

  async count(space: string): Promise<number> {
    return (await this.#objects(space)).length
  }

  /**
   * Purges the chunks that no object refers to (replaced and removed versions, puts that died)
   * once this node has seen them unreferenced for `retainMs` and their newest chunk is that old.
   * Runs on its own timer; callable for tests. One collection at a time per engine.
   */
  collectGarbage(): Promise<void> {
    this.#collecting ??= this.#collect().finally(() => {
      this.#collecting = undefined
    })
    return this.#collecting
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#collector)
    // A collection's failure goes to whoever started it (the timer reports it through onError).
    await this.#collecting?.catch(() => {})
  }

  async #collect(): Promise<void> {
    if (this.#closed) return
    // The chunk subjects first, the object infos second: a put committed in between is seen as referenced.
    const chunkPrefix = `$O.${this.#bucket}.C.`
    const { state } = await this.#jsm.streams.info(this.#stream, { subjects_filter: `${chunkPrefix}>` })
    const subjects = new Set(Object.keys(state.subjects ?? {}))
    const referenced = new Set((await this.#scan()).map((stored) => `${chunkPrefix}${stored.nuid}`))
    const now = Date.now()
    for (const subject of [...this.#unreferenced.keys()]) {
      if (!subjects.has(subject) || referenced.has(subject)) this.#unreferenced.delete(subject)
    }
    for (const subject of subjects) {
      if (this.#closed) return
      if (referenced.has(subject)) continue
      const since = this.#unreferenced.get(subject)
      if (since === undefined) {
        this.#unreferenced.set(subject, now)
        continue
      }
      if (now - since < this.#retainMs) continue
      const newest = await this.#jsm.direct.getMessage(this.#stream, { last_by_subj: subject })
      if (newest && now - newest.time.getTime() < this.#retainMs) continue
      await this.#jsm.streams.purge(this.#stream, { filter: subject })
      this.#unreferenced.delete(subject)
    }
  }

  /** The current object info of `key`, with its revision (stream sequence); read from the stream's leader. */
  async #info(space: string, key: string): Promise<{ stored: StoredInfo; revision: number } | undefined> {
    const name = objectName(space, key)
    const message = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: this.#infoSubject(name) })
    if (!message) return undefined
    const stored = message.json<StoredInfo>()
    if (stored.deleted) return undefined
    if (stored.metadata?.key !== key) throw new Error(`object ${name} holds another key`)
    return { stored, revision: message.seq }
  }

  /** A chunk by its sequence: a direct get (any replica answers), else from the leader, which has every stored chunk. */
  async #chunk(seq: number): Promise<{ subject: string; data: Uint8Array } | null> {
    return (
      (await this.#jsm.direct.getMessage(this.#stream, { seq })) ?? (await this.#jsm.streams.getMessage(this.#stream, { seq }))
    )
  }

  /** Switchboard's objects of `space`. */
  async #objects(space: string): Promise<StoredInfo[]> {
    if (!SPACE.test(space)) throw new Error(`not a blob space name: ${JSON.stringify(space)}`)
    const prefix = `${space}/`
    return (await this.#scan()).filter((stored) => stored.name.startsWith(prefix) && typeof stored.metadata?.key === 'string')
  }

  /** The current info of every object in the bucket, through a consumer of the last message of each info subject. */
  async #scan(): Promise<StoredInfo[]> {
    const consumer = await this.#jsm.consumers.add(this.#stream, {
      filter_subject: `$O.${this.#bucket}.M.>`,
      deliver_policy: DeliverPolicy.LastPerSubject,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(60_000),
    })
    try {
      const found: StoredInfo[] = []
      if (consumer.num_pending === 0) return found
      const pull = this.#js.consumers.getConsumerFromInfo(consumer)
      // Until the message that leaves nothing pending; or a batch that brings nothing, when the
      // last pending info was purged (a remove) before it came.
      for (let done = false; !done; ) {
        done = true
        for await (const message of await pull.fetch({ max_messages: 512, expires: 1000 })) {
          const stored = message.json<StoredInfo>()
          if (!stored.deleted) found.push(stored)
          done = message.info.pending === 0
          if (done) break
        }
      }
      return found
    } finally {
      // A consumer left behind expires by itself (inactive_threshold).
      await this.#jsm.consumers.delete(this.#stream, consumer.name).catch(() => {})
    }
  }

  /** ADR-20's info subject: the name in padded base64url. */
  #infoSubject(name: string): string {
    return `$O.${this.#bucket}.M.${paddedBase64Url(Buffer.from(name))}`
  }
}

/** Base64url with its padding, as ADR-20 spells names in subjects and digests. */
function paddedBase64Url(bytes: Buffer): string {
  return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
}

function objectName(space: string, key: string): string {
  if (!SPACE.test(space)) throw new Error(`not a blob space name: ${JSON.stringify(space)}`)
  return `${space}/${createHash('sha256').update(key).digest('hex')}`
}

function infoOf(stored: StoredInfo): BlobInfo {
  const digest = stored.digest ?? ''
  return {
    key: stored.metadata?.key ?? '',
    size: stored.size,
    contentType: stored.headers?.['Content-Type']?.[0] ?? 'application/octet-stream',
    etag: `"${digest.slice(DIGEST.length).replace(/=+$/, '')}"`,
    mtime: stored.mtime,
  }
}

/** Sequences as runs, `first+count,…`: a put's chunks are mostly consecutive in the stream. */
function encodeSeqs(seqs: readonly number[]): string {
  const runs: string[] = []
  for (let i = 0; i < seqs.length; ) {
    let count = 1
    while (i + count < seqs.length && seqs[i + count] === (seqs[i] as number) + count) count++
    runs.push(`${seqs[i]}+${count}`)
    i += count
  }
  return runs.join(',')
}

function decodeSeqs(runs: string): number[] {
  const seqs: number[] = []
  if (runs === '') return seqs
  for (const run of runs.split(',')) {
    const [first, count] = run.split('+').map(Number) as [number, number]
    for (let i = 0; i < count; i++) seqs.push(first + i)
  }
  return seqs
}
