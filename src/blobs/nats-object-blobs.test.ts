import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { it, type TestContext } from 'node:test'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { Objm } from '@nats-io/obj'
import { connect } from '@nats-io/transport-node'
import { newNatsPrefix, TEST_NATS_URL } from '../../test/support/nats.ts'
import { blobsContract } from './blobs.contract.ts'
import { BlobTooLargeError } from './blobs.ts'
import { NatsObjectBlobs, type NatsObjectBlobsOptions } from './nats-object-blobs.ts'

/**
 * An engine on the NATS server of SWITCHBOARD_TEST_NATS_URL (bin/test sets it and starts it
 * with JetStream), in a bucket of its own that goes after the test.
 */
async function engine(options: Partial<NatsObjectBlobsOptions> = {}) {
  const connection = await connect({ servers: TEST_NATS_URL })
  const blobs = await NatsObjectBlobs.open(connection, {
    prefix: newNatsPrefix(),
    collectEveryMs: 0,
    onError: (error) => console.error(error),
    ...options,
  })
  return {
    connection,
    blobs,
    dispose: async () => {
      await blobs.close()
      await (await jetstreamManager(connection)).streams.delete(`OBJ_${blobs.bucket}`).catch(() => {})
      await connection.close()
    },
  }
}

async function opened(t: TestContext, options: Partial<NatsObjectBlobsOptions> = {}) {
  const opened = await engine(options)
  t.after(opened.dispose)
  return opened
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function* once(bytes: Uint8Array | string): AsyncGenerator<Uint8Array> {
  yield typeof bytes === 'string' ? Buffer.from(bytes) : bytes
}

async function* failing(): AsyncGenerator<Uint8Array> {
  yield randomBytes(600 * 1024)
  throw new Error('the client went away')
}

/** Messages in the bucket's stream on each chunk subject (`$O.<bucket>.C.<nuid>`). */
async function chunkSubjects(connection: NatsConnection, bucket: string): Promise<Record<string, number>> {
  const info = await (await jetstreamManager(connection)).streams.info(`OBJ_${bucket}`, { subjects_filter: `$O.${bucket}.C.>` })
  return info.state.subjects ?? {}
}

blobsContract('nats object store', async () => {
  const { blobs, dispose } = await engine()
  return { blobs, dispose }
})

it('keeps the files in a standard object store that the NATS object store client reads', async (t) => {
  const { connection, blobs } = await opened(t)
  const bytes = randomBytes(700 * 1024)
  const info = await blobs.put('dom', 'reports/q4.bin', once(bytes), { contentType: 'application/x-q4', maxBytes: 1 << 20 })
  const store = await new Objm(connection).open(blobs.bucket)
  const name = `dom/${createHash('sha256').update('reports/q4.bin').digest('hex')}`
  assert.deepEqual(
    (await store.list()).map((object) => object.name),
    [name],
  )
  const object = await store.info(name)
  assert.equal(object?.size, bytes.length)
  assert.equal(object?.chunks, 3)
  assert.equal(object?.digest, `SHA-256=${createHash('sha256').update(bytes).digest('base64url')}=`)
  assert.equal(info.etag, `"${createHash('sha256').update(bytes).digest('base64url')}"`)
  assert.equal(object?.metadata?.key, 'reports/q4.bin')
  assert.equal(object?.headers?.get('Content-Type'), 'application/x-q4')
  assert.ok((await store.getBlob(name))?.every((byte, i) => byte === bytes[i]))
  const status = await store.status()
  assert.equal(status.storage, 'file')
  assert.equal(status.bucket, blobs.bucket)
})

it('leaves no chunks of a put that fails, is too large, or whose body breaks', async (t) => {
  const { connection, blobs } = await opened(t)
  await assert.rejects(
    blobs.put('dom', 'big', once(randomBytes(900 * 1024)), { contentType: 'x/y', maxBytes: 800 * 1024 }),
    BlobTooLargeError,
  )
  await assert.rejects(blobs.put('dom', 'broken', failing(), { contentType: 'x/y', maxBytes: 1 << 20 }), /went away/)
  assert.deepEqual(await chunkSubjects(connection, blobs.bucket), {})
  assert.equal(await blobs.count('dom'), 0)
})

it("keeps a replaced or removed version's chunks for its readers, then collects them", async (t) => {
  const retainMs = 1500
  const { connection, blobs } = await opened(t, { retainMs })
  const first = randomBytes(300 * 1024)
  await blobs.put('dom', 'k', once(first), { contentType: 'x/y', maxBytes: 1 << 20 })
  await blobs.put('dom', 'gone', once('removed soon'), { contentType: 'x/y', maxBytes: 1 << 20 })
  const reader = await blobs.open('dom', 'k')
  await blobs.put('dom', 'k', once('second'), { contentType: 'x/y', maxBytes: 1 << 20 })
  await blobs.remove('dom', 'gone')
  assert.deepEqual(Object.values(await chunkSubjects(connection, blobs.bucket)).sort(), [1, 1, 2], 'nothing purged yet')

  // The first collection sees the two old versions unreferenced; they go only once retainMs has passed.
  await blobs.collectGarbage()
  assert.equal(Object.keys(await chunkSubjects(connection, blobs.bucket)).length, 3)
  const parts: Buffer[] = []
  for await (const part of reader?.stream() ?? []) parts.push(part as Buffer)
  assert.ok(Buffer.concat(parts).equals(first), 'the reader of the replaced version reads it whole')

  await new Promise((resolve) => setTimeout(resolve, retainMs + 100))
  await blobs.collectGarbage()
  assert.deepEqual(Object.values(await chunkSubjects(connection, blobs.bucket)), [1], "only the current version's chunk")
  assert.equal((await blobs.stat('dom', 'k'))?.size, 'second'.length)
  const late = await blobs.open('dom', 'k')
  const parts2: Buffer[] = []
  for await (const part of late?.stream() ?? []) parts2.push(part as Buffer)
  assert.equal(Buffer.concat(parts2).toString(), 'second')
})

it("collects the chunks of a put whose node died before it committed, and never a live put's", async (t) => {
  const retainMs = 2000
  const { connection, blobs } = await opened(t, { retainMs })
  // A node that died mid-put: chunks on a subject of their own, and no object info.
  await jetstream(connection).publish(`$O.${blobs.bucket}.C.orphan`, randomBytes(1000))
  // A put that goes on until the test ends it (past retainMs), a chunk every 250 ms (it never
  // stalls for retainMs / 2): it is live whatever the machine's load.
  const chunks: Buffer[] = []
  let more = true
  async function* slow(): AsyncGenerator<Uint8Array> {
    while (more) {
      const chunk = randomBytes(256 * 1024)
      chunks.push(chunk)
      yield chunk
      await sleep(250)
    }
  }
  const putting = blobs.put('dom', 'slow', slow(), { contentType: 'x/y', maxBytes: 64 << 20 })
  while (Object.keys(await chunkSubjects(connection, blobs.bucket)).length < 2) await sleep(20)
  await blobs.collectGarbage()
  await sleep(retainMs + 100)
  await blobs.collectGarbage()
  assert.deepEqual(
    Object.keys(await chunkSubjects(connection, blobs.bucket)).map((subject) => subject.endsWith('.orphan')),
    [false],
    "the orphan went, the live put's chunks stayed",
  )
  more = false
  await putting
  const parts: Buffer[] = []
  for await (const part of (await blobs.open('dom', 'slow'))?.stream() ?? []) parts.push(part as Buffer)
  assert.ok(Buffer.concat(parts).equals(Buffer.concat(chunks)))
})

it('fails a put whose body stalls for half of retainMs, and leaves nothing of it', async (t) => {
  const { connection, blobs } = await opened(t, { retainMs: 400 })
  async function* stalling(): AsyncGenerator<Uint8Array> {
    yield randomBytes(256 * 1024)
    await new Promise((resolve) => setTimeout(resolve, 300))
    yield Buffer.from('late')
  }
  await assert.rejects(
    blobs.put('dom', 'k', stalling(), { contentType: 'x/y', maxBytes: 1 << 20 }),
    /the body stalled for more than 0 s/,
  )
  assert.deepEqual(await chunkSubjects(connection, blobs.bucket), {})
  assert.equal(await blobs.stat('dom', 'k'), undefined)
})

it('reads a range from the chunks it covers only', async (t) => {
  const { blobs } = await opened(t)
  const chunk = 256 * 1024
  const bytes = randomBytes(5 * chunk + 10)
  await blobs.put('dom', 'k', once(bytes), { contentType: 'x/y', maxBytes: 8 << 20 })
  // The direct gets the engine sends, as another client of the server hears them.
  const listener = await connect({ servers: TEST_NATS_URL })
  t.after(() => listener.close())
  const asked: number[] = []
  listener.subscribe(`$JS.API.DIRECT.GET.OBJ_${blobs.bucket}`, {
    callback: (_error, message) => {
      asked.push(message.json<{ seq: number }>().seq)
    },
  })
  await listener.flush()
  const seqs: number[][] = []
  for (const [start, end] of [
    [0, 0],
    [chunk - 1, chunk],
    [3 * chunk + 5, 5 * chunk + 9],
    [bytes.length - 1, bytes.length + 100],
    [0, bytes.length - 1],
  ] as const) {
    asked.length = 0
    const parts: Buffer[] = []
    for await (const part of (await blobs.open('dom', 'k'))?.stream({ start, end }) ?? []) parts.push(part as Buffer)
    assert.ok(Buffer.concat(parts).equals(bytes.subarray(start, end + 1)), `${start}-${end}`)
    await listener.flush()
    seqs.push([...asked])
  }
  const all = seqs[4] ?? []
  assert.equal(all.length, 6)
  assert.deepEqual(seqs.slice(0, 4), [[all[0]], [all[0], all[1]], [all[3], all[4], all[5]], [all[5]]])
})
