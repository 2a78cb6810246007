import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { type Readable, Writable } from 'node:stream'
import { describe, it, type TestContext } from 'node:test'
import { type Blobs, BlobTooLargeError } from './blobs.ts'

const SPACE = 'space-a'
const OTHER = 'space-b'
const MAX = 64 << 20

/** `bytes` as a body arriving in chunks of `chunk` bytes. */
async function* chunks(bytes: Uint8Array, chunk = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk)
}

async function* failing(after: Uint8Array): AsyncGenerator<Uint8Array> {
  yield after
  throw new Error('the client went away')
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(part as Buffer)
  return Buffer.concat(parts)
}

async function read(
  blobs: Blobs,
  space: string,
  key: string,
  range?: { start: number; end: number },
): Promise<Buffer | undefined> {
  const reader = await blobs.open(space, key)
  return reader && bytesOf(reader.stream(range))
}

const put = (blobs: Blobs, key: string, bytes: Uint8Array | string, space = SPACE, contentType = 'application/octet-stream') =>
  blobs.put(space, key, chunks(typeof bytes === 'string' ? Buffer.from(bytes) : bytes), { contentType, maxBytes: MAX })

/** The promises of the `Blobs` interface, for every engine. */
export function blobsContract(label: string, open: () => Promise<{ blobs: Blobs; dispose?: () => Promise<void> }>): void {
  async function fresh(t: TestContext): Promise<Blobs> {
    const { blobs, dispose } = await open()
    t.after(async () => {
      await blobs.close()
      await dispose?.()
    })
    return blobs
  }

  describe(`${label} blobs`, () => {
    it('stores bytes and metadata, and gives the same bytes back, whole or by range', async (t) => {
      const blobs = await fresh(t)
      const bytes = randomBytes(3 * 1024 * 1024 + 17)
      const info = await put(blobs, 'reports/2026/q4.bin', bytes, SPACE, 'application/x-report')
      assert.equal(info.key, 'reports/2026/q4.bin')
      assert.equal(info.size, bytes.length)
      assert.equal(info.contentType, 'application/x-report')
      assert.match(info.etag, /^"[A-Za-z0-9_-]{16,}"$/)
      assert.ok(Math.abs(Date.parse(info.mtime) - Date.now()) < 60_000)
      assert.deepEqual(await blobs.stat(SPACE, 'reports/2026/q4.bin'), info)
      assert.ok((await read(blobs, SPACE, 'reports/2026/q4.bin'))?.equals(bytes))
      assert.ok((await read(blobs, SPACE, 'reports/2026/q4.bin', { start: 100, end: 199 }))?.equals(bytes.subarray(100, 200)))
      const last = bytes.length - 1
      assert.ok((await read(blobs, SPACE, 'reports/2026/q4.bin', { start: last, end: last }))?.equals(bytes.subarray(last)))
      const reader = await blobs.open(SPACE, 'reports/2026/q4.bin')
      assert.deepEqual(reader?.info, info)
      await reader?.close()
    })

    it('sends the bytes, whole or by range, to a destination, and stops when the destination closes', async (t) => {
      const blobs = await fresh(t)
      const bytes = randomBytes(2 * 1024 * 1024 + 3)
      await put(blobs, 'k', bytes)
      const collect = async (range?: { start: number; end: number }) => {
        const parts: Buffer[] = []
        const sink = new Writable({
          write(chunk: Buffer, _encoding, done) {
            parts.push(Buffer.from(chunk))
            setImmediate(done)
          },
        })
        await (await blobs.open(SPACE, 'k'))?.sendTo(sink, range)
        return Buffer.concat(parts)
      }
      assert.ok((await collect()).equals(bytes))
      assert.ok((await collect({ start: 1000, end: 1_500_000 })).equals(bytes.subarray(1000, 1_500_001)))
      assert.ok((await collect({ start: 5, end: 5 })).equals(bytes.subarray(5, 6)))

      // A destination that goes away after the first chunk: the send ends with an error, not a hang.
      let received = 0
      const leaving: Writable = new Writable({
        write(chunk: Buffer, _encoding, _done) {
          received += chunk.length
          setImmediate(() => leaving.destroy())
        },
      })
      const reader = await blobs.open(SPACE, 'k')
      await assert.rejects(reader?.sendTo(leaving) ?? Promise.resolve())
      assert.ok(received > 0 && received < bytes.length)
      assert.ok((await collect()).equals(bytes), 'the blob serves again afterwards')
    })

    it('keeps an empty blob, and answers undefined for keys it does not have', async (t) => {
      const blobs = await fresh(t)
      const info = await put(blobs, 'empty', '')
      assert.equal(info.size, 0)
      assert.deepEqual(await read(blobs, SPACE, 'empty'), Buffer.alloc(0))
      assert.equal(await blobs.open(SPACE, 'absent'), undefined)
      assert.equal(await blobs.stat(SPACE, 'absent'), undefined)
      assert.equal(await blobs.remove(SPACE, 'absent'), undefined)
      assert.equal(await blobs.stat(OTHER, 'empty'), undefined)
    })

    it('changes the etag with the bytes and keeps it for the same bytes', async (t) => {
      const blobs = await fresh(t)
      const a = await put(blobs, 'k', 'one')
      const b = await put(blobs, 'k', 'two')
      const c = await put(blobs, 'k', 'two')
      assert.notEqual(a.etag, b.etag)
      assert.equal(b.etag, c.etag)
      assert.equal((await read(blobs, SPACE, 'k'))?.toString(), 'two')
    })

    it('refuses a body past maxBytes and keeps the previous blob', async (t) => {
      const blobs = await fresh(t)
      await put(blobs, 'k', 'before')
      await assert.rejects(
        blobs.put(SPACE, 'k', chunks(randomBytes(5000), 1000), { contentType: 'x/y', maxBytes: 4096 }),
        (error: unknown) => error instanceof BlobTooLargeError && error.maxBytes === 4096,
      )
      await assert.rejects(
        blobs.put(SPACE, 'new', chunks(randomBytes(5000), 1000), { contentType: 'x/y', maxBytes: 4096 }),
        BlobTooLargeError,
      )
      assert.equal((await read(blobs, SPACE, 'k'))?.toString(), 'before')
      assert.equal(await blobs.stat(SPACE, 'new'), undefined)
      assert.deepEqual(
        (await blobs.list(SPACE, { prefix: '', offset: 0, limit: 10 })).items.map((info) => info.key),
        ['k'],
      )
    })

    it('leaves the previous blob when the body fails half way', async (t) => {
      const blobs = await fresh(t)
      await put(blobs, 'k', 'before')
      await assert.rejects(
        blobs.put(SPACE, 'k', failing(Buffer.from('half')), { contentType: 'x/y', maxBytes: MAX }),
        /went away/,
      )
      assert.equal((await read(blobs, SPACE, 'k'))?.toString(), 'before')
    })

    it('lets an open reader finish the version it opened while the blob is replaced or removed', async (t) => {
      const blobs = await fresh(t)
      const first = randomBytes(1 << 20)
      await put(blobs, 'k', first)
      const reader = await blobs.open(SPACE, 'k')
      await put(blobs, 'k', 'replaced')
      assert.equal((await read(blobs, SPACE, 'k'))?.toString(), 'replaced')
      const removing = await blobs.open(SPACE, 'k')
      assert.equal((await blobs.remove(SPACE, 'k'))?.size, 'replaced'.length)
      assert.ok(reader && (await bytesOf(reader.stream())).equals(first))
      assert.equal(removing && (await bytesOf(removing.stream())).toString(), 'replaced')
      assert.equal(await blobs.open(SPACE, 'k'), undefined)
    })

    it('never shows a part of a blob while many writers replace it', async (t) => {
      const blobs = await fresh(t)
      const versions = Array.from({ length: 8 }, () => randomBytes(256 * 1024))
      await put(blobs, 'k', versions[0] as Buffer)
      const reads: Promise<Buffer | undefined>[] = []
      await Promise.all(
        versions.map(async (bytes) => {
          reads.push(read(blobs, SPACE, 'k'))
          await put(blobs, 'k', bytes)
        }),
      )
      for (const seen of [...(await Promise.all(reads)), await read(blobs, SPACE, 'k')]) {
        assert.ok(
          versions.some((bytes) => seen?.equals(bytes)),
          'every read is one whole version',
        )
      }
    })

    it('lists by prefix in key order, with paging and the total', async (t) => {
      const blobs = await fresh(t)
      for (const key of ['b/2', 'a/1', 'b/1', 'b10', 'c', 'b/3/x']) await put(blobs, key, key)
      await put(blobs, 'b/9', 'elsewhere', OTHER)
      const all = await blobs.list(SPACE, { prefix: '', offset: 0, limit: 100 })
      assert.deepEqual(
        all.items.map((info) => info.key),
        ['a/1', 'b/1', 'b/2', 'b/3/x', 'b10', 'c'],
      )
      assert.equal(all.total, 6)
      assert.deepEqual(all.items[0], await blobs.stat(SPACE, 'a/1'))
      const page = await blobs.list(SPACE, { prefix: 'b/', offset: 1, limit: 2 })
      assert.deepEqual(
        page.items.map((info) => info.key),
        ['b/2', 'b/3/x'],
      )
      assert.equal(page.total, 3)
      assert.deepEqual((await blobs.list(SPACE, { prefix: 'zzz', offset: 0, limit: 10 })).items, [])
      assert.deepEqual(
        (await blobs.list(OTHER, { prefix: '', offset: 0, limit: 10 })).items.map((info) => info.key),
        ['b/9'],
      )
      assert.equal(await blobs.count(SPACE), 6)
      assert.equal(await blobs.count('space-empty'), 0)
    })

    it('treats any key as an opaque name inside its space', async (t) => {
      const blobs = await fresh(t)
      const keys = ['../escape', '/etc/passwd', '..\\..\\x', 'a/../../b', 'ümlaut/☃', '%2e%2e/x']
      for (const key of keys) await put(blobs, key, `value of ${key}`)
      for (const key of keys) assert.equal((await read(blobs, SPACE, key))?.toString(), `value of ${key}`)
      assert.equal(await blobs.stat(OTHER, '../escape'), undefined)
      assert.equal((await blobs.list(SPACE, { prefix: '', offset: 0, limit: 100 })).total, keys.length)
    })
  })
}
