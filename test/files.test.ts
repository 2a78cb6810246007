import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { join, relative } from 'node:path'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { FileEntry } from '../src/files/file-schemas.ts'
import { assertError, assertMatchesSchema } from './support/assertions.ts'
import { auditOf, capabilityRole } from './support/iam.ts'
import { rawRequest } from './support/raw-http.ts'
import { saveScript } from './support/scripts.ts'
import { CHANNELS, type Client, DOMAINS, json, ROOT_KEY, startServer } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

async function filesChannel(root: Client, code: string, opts: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const reply = await root.post(CHANNELS, { code, type: 'public', opts: { allow_files_api: true, ...opts }, ...extra })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; token_local: string }
}

/** Every entry under `dir` with, for files under files/, a hash of their bytes. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((entry) => {
      const path = relative(dir, join(entry.parentPath, entry.name))
      if (!entry.isFile() || !path.startsWith('files/')) return path
      return `${path} ${createHash('sha256')
        .update(readFileSync(join(dir, path)))
        .digest('hex')}`
    })
    .sort()
}

const blobFile = (dataDir: string, domainId: string, path: string) => {
  const name = createHash('sha256').update(path).digest('hex')
  return join(dataDir, 'files', domainId, name.slice(0, 2), name)
}

describe('files API (SPEC §9)', () => {
  it('uploads a 5 MiB file as a stream and gives it back byte for byte, with its headers', async (t) => {
    const { root, url } = await startServer(t)
    const { token_local: token } = await filesChannel(root, 'store')
    const auth = { authorization: `Bearer ${token}` }
    const bytes = randomBytes(5 * 1024 * 1024)
    // Sent in 64 KiB chunks without a Content-Length (chunked): nothing needs the whole body at once.
    const chunks = Array.from({ length: bytes.length / 65536 }, (_, i) => bytes.subarray(i * 65536, (i + 1) * 65536))
    const put = await rawRequest(
      url,
      'PUT',
      '/files/reports/2026/big.bin',
      { ...auth, 'content-type': 'application/x-report' },
      Readable.from(chunks),
    )
    assert.equal(put.status, 201, put.text)
    const entry = put.body as Record<string, unknown>
    assertMatchesSchema(FileEntry, entry)
    assert.deepEqual(entry, {
      path: 'reports/2026/big.bin',
      size: bytes.length,
      content_type: 'application/x-report',
      mtime: entry.mtime,
    })
    const etag = put.headers.get('etag')
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]{43}"$/)

    const got = await rawRequest(url, 'GET', '/files/reports/2026/big.bin', auth)
    assert.equal(got.status, 200)
    assert.ok(got.bytes.equals(bytes), 'the same bytes come back')
    assert.equal(got.headers.get('content-type'), 'application/x-report')
    assert.equal(got.headers.get('content-length'), String(bytes.length))
    assert.equal(got.headers.get('etag'), etag)
    assert.equal(got.headers.get('accept-ranges'), 'bytes')
    assert.equal(got.headers.get('last-modified'), new Date(entry.mtime as string).toUTCString())
    assert.equal(got.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(got.headers.get('content-security-policy'), 'sandbox')
    assert.equal(got.headers.get('content-disposition'), "inline; filename*=UTF-8''big.bin")

    const head = await rawRequest(url, 'HEAD', '/files/reports/2026/big.bin', auth)
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), String(bytes.length))
    assert.equal(head.bytes.length, 0)
    const notModified = await rawRequest(url, 'GET', '/files/reports/2026/big.bin', { ...auth, 'if-none-match': etag as string })
    assert.equal(notModified.status, 304)
    assert.equal(notModified.bytes.length, 0)

    // Replacing: 200, a new etag; the type is guessed from the name when none is sent.
    const again = await rawRequest(url, 'PUT', '/files/reports/2026/big.bin', { ...auth, 'content-length': '5' }, 'small')
    assert.equal(again.status, 200, again.text)
    assert.notEqual(again.headers.get('etag'), etag)
    const text = await rawRequest(url, 'PUT', '/files/notes/caf%C3%A9.txt', auth, 'hello')
    assert.equal(json(text).content_type, 'text/plain; charset=utf-8')
    assert.equal(json(text).path, 'notes/café.txt')
    const read = await rawRequest(url, 'GET', '/files/notes/cafe%CC%81.txt', auth)
    assert.equal(read.text, 'hello', 'NFC and NFD spellings name the same file')
    assert.equal(read.headers.get('content-disposition'), "inline; filename*=UTF-8''caf%C3%A9.txt")
  })

  it('keeps serving when a client goes away mid-download, and closes what the download opened', async (t) => {
    const { root, url } = await startServer(t)
    const { token_local: token } = await filesChannel(root, 'aborts')
    const auth = { authorization: `Bearer ${token}` }
    // Larger than what loopback socket buffers hold: the server is still writing when the client leaves.
    const bytes = randomBytes(32 * 1024 * 1024)
    assert.equal((await rawRequest(url, 'PUT', '/files/big.bin', auth, bytes)).status, 201)
    const openFiles = () => readdirSync('/proc/self/fd').length
    const before = openFiles()
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const request = get(`${url}/files/big.bin`, { headers: auth, agent: false }, (response) => {
          response.once('data', () => {
            request.destroy()
            resolve()
          })
        })
        request.on('error', (error) => ((error as { code?: string }).code === 'ECONNRESET' ? resolve() : reject(error)))
      })
    }
    for (let i = 0; i < 100 && openFiles() > before; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok(openFiles() <= before, `descriptors left open: ${openFiles()} > ${before}`)
    const whole = await rawRequest(url, 'GET', '/files/big.bin', auth)
    assert.ok(whole.bytes.equals(bytes))
  })

  it('serves one Range as 206, a range past the end as 416, and ignores ranges it cannot serve as one', async (t) => {
    const { root, url } = await startServer(t)
    const { token_local: token } = await filesChannel(root, 'ranges')
    const auth = { authorization: `Bearer ${token}` }
    const bytes = Buffer.from('0123456789abcdefghij')
    const put = await rawRequest(url, 'PUT', '/files/r.bin', auth, bytes)
    const etag = put.headers.get('etag') as string
    const slice = async (range: string, extra: Record<string, string> = {}) =>
      rawRequest(url, 'GET', '/files/r.bin', { ...auth, range, ...extra })

    for (const [range, start, end] of [
      ['bytes=0-4', 0, 4],
      ['bytes=15-', 15, 19],
      ['bytes=-3', 17, 19],
      ['bytes=18-100', 18, 19],
      ['bytes=7-7', 7, 7],
    ] as const) {
      const answer = await slice(range)
      assert.equal(answer.status, 206, range)
      assert.equal(answer.text, bytes.subarray(start, end + 1).toString(), range)
      assert.equal(answer.headers.get('content-range'), `bytes ${start}-${end}/20`, range)
      assert.equal(answer.headers.get('content-length'), String(end - start + 1), range)
    }
    for (const range of ['bytes=20-', 'bytes=25-30', 'bytes=-0']) {
      const answer = await slice(range)
      assert.equal(answer.status, 416, range)
      assert.deepEqual(answer.body, { error_code: 1416, error_message: 'the range is outside the file (20 bytes)' })
      assert.equal(answer.headers.get('content-range'), 'bytes */20')
    }
    for (const range of ['bytes=5-2', 'bytes=0-1,4-5', 'lines=1-2', 'bytes=x-y']) {
      const answer = await slice(range)
      assert.equal(answer.status, 200, range)
      assert.ok(answer.bytes.equals(bytes), range)
    }
    assert.equal((await slice('bytes=0-1', { 'if-range': etag })).status, 206)
    const stale = await slice('bytes=0-1', { 'if-range': '"an-older-version"' })
    assert.equal(stale.status, 200, 'a range of another version gives the whole current file')
    assert.equal(stale.text, bytes.toString())
  })

  it("refuses every way out of the domain's space with 1400 and touches nothing", async (t) => {
    const { root, url, config } = await startServer(t)
    const { token_local: token } = await filesChannel(root, 'hostile')
    const auth = { authorization: `Bearer ${token}` }
    assert.equal((await rawRequest(url, 'PUT', '/files/inside.txt', auth, 'inside')).status, 201)
    const outside = join(config.dataDir, '..', `outside-${randomBytes(4).toString('hex')}.txt`)
    writeFileSync(outside, 'outside')
    t.after(() => rmSync(outside, { force: true }))
    const before = snapshot(config.dataDir)

    const hostile = [
      ['/files/../outside.txt', /^invalid file path: .*\.\. segments/],
      ['/files/a/../../outside.txt', /^invalid file path: .*\.\. segments/],
      ['/files/%2e%2e/outside.txt', /^invalid file path: .*\.\. segments/],
      ['/files/%2E%2E/%2E%2E/outside.txt', /^invalid file path: .*\.\. segments/],
      ['/files/.%2e/outside.txt', /^invalid file path: .*\.\. segments/],
      ['/files/%2e%2e%2foutside.txt', /^invalid file path: .*encoded \//],
      ['/files/a%2F..%2F..%2Foutside.txt', /^invalid file path: .*encoded \//],
      ['/files/%252e%252e/outside.txt', /^invalid file path: .*double-encoded/],
      ['/files/%c0%ae%c0%ae/outside.txt', /^the URL is malformed$/],
      ['/files//etc/passwd', /^invalid file path: .*relative/],
      ['/files/%2Fetc%2Fpasswd', /^invalid file path: .*encoded \//],
      ['/files/C:/Windows/win.ini', /^invalid file path: .*drive letter/],
      ['/files/..\\outside.txt', /^invalid file path: .*backslash/],
      ['/files/..%5coutside.txt', /^invalid file path: .*backslash/],
      ['/files/inside.txt%00.png', /^invalid file path: .*NUL/],
      ['/files/a%0d%0aSet-Cookie:x', /^invalid file path: .*control character/],
      ['/files/', /^invalid file path: .*empty/],
      ['/files/folder/', /^invalid file path: .*cannot end with/],
    ] as const
    for (const [path, why] of hostile) {
      for (const method of ['PUT', 'GET', 'DELETE']) {
        const answer = await rawRequest(url, method, path, auth, method === 'PUT' ? 'overwritten' : undefined)
        if (path === '/files/' && method === 'GET') continue // the listing
        assertError(answer, 400, why)
      }
    }
    assertError(await rawRequest(url, 'GET', '/files/?prefix=../', auth), 400, /\.\. segments/)
    assertError(await rawRequest(url, 'GET', '/files/?prefix=%2Fetc', auth), 400, /relative/)

    // A symbolic link planted where a file lives (by someone with access to the disk) is never followed.
    const domainId = (await root.get('/rest/v1/service/integration_tokens/'.concat(token))).body as { domain: string }
    assert.equal(domainId.domain, 'default')
    const defaultId = json(await root.post(`${DOMAINS}/lookup`, { name: 'default' })).id as string
    assert.equal((await rawRequest(url, 'PUT', '/files/planted.txt', auth, 'planted')).status, 201)
    const planted = blobFile(config.dataDir, defaultId, 'planted.txt')
    rmSync(planted)
    symlinkSync(outside, planted)
    const withLink = snapshot(config.dataDir)
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const answer = await rawRequest(url, method, '/files/planted.txt', auth, method === 'PUT' ? 'overwritten' : undefined)
      assertError(answer, 400, /^invalid file path: it leads out of the domain's file space \(a symbolic link\)$/)
    }
    assert.equal(readFileSync(outside, 'utf8'), 'outside')
    assert.deepEqual(snapshot(config.dataDir), withLink)
    rmSync(join(planted, '..'), { recursive: true })
    assert.deepEqual(snapshot(config.dataDir), before, 'the data directory is as it was')
    assert.equal((await rawRequest(url, 'GET', '/files/inside.txt', auth)).text, 'inside')
  })

  it('checks the token, its ipmask and opts.allow_files_api before reading the body', async (t) => {
    const { root, url, config } = await startServer(t)
    const without = await filesChannel(root, 'no-files', { allow_files_api: false })
    const masked = await filesChannel(root, 'masked', {}, { ipmask: ['203.0.113.0/24'] })
    const before = snapshot(config.dataDir)
    const put = (headers: Record<string, string>) => rawRequest(url, 'PUT', '/files/x.txt', headers, 'x')
    assert.deepEqual((await put({})).body, {
      error_code: 1401,
      error_message: 'a channel token is needed: Authorization: Bearer <token>',
    })
    assertError(await put({ authorization: 'Basic eDp5' }), 401)
    assert.deepEqual((await put({ authorization: 'Bearer 0123456789abcdef0123456789abcdef' })).body, {
      error_code: 1404,
      error_message: 'no channel has this token',
    })
    assert.deepEqual((await put({ authorization: `Bearer ${without.token_local}` })).body, {
      error_code: 1403,
      error_message: 'the channel does not allow the files API (opts.allow_files_api)',
    })
    assert.deepEqual((await put({ authorization: `Bearer ${masked.token_local}` })).body, {
      error_code: 1403,
      error_message: "the sender address 127.0.0.1 is not allowed by the channel's ipmask",
    })
    assertError(await rawRequest(url, 'GET', '/files/', { authorization: `Bearer ${without.token_local}` }), 403)
    assertError(await rawRequest(url, 'GET', '/files/x.txt', { authorization: `Bearer ${masked.token_local}` }), 403)
    // The body of a refused upload is not taken in: the connection closes after the answer.
    const refused = await rawRequest(
      url,
      'PUT',
      '/files/x.txt',
      { authorization: `Bearer ${without.token_local}` },
      randomBytes(256 * 1024),
    )
    assert.equal(refused.status, 403)
    assert.equal(refused.headers.get('connection'), 'close')
    // An admin key is not a channel token.
    assertError(await put({ authorization: `Bearer ${ROOT_KEY}` }), 404, /no channel has this token/)
    assert.deepEqual(snapshot(config.dataDir), before)
  })

  it('refuses a file past SWITCHBOARD_FILES_MAX_BYTES with 1413, by its Content-Length or while it streams', async (t) => {
    const { root, url, config } = await startServer(t, { env: { SWITCHBOARD_FILES_MAX_BYTES: String(1 << 20) } })
    const { token_local: token } = await filesChannel(root, 'limited')
    const auth = { authorization: `Bearer ${token}` }
    assert.equal((await rawRequest(url, 'PUT', '/files/keep.bin', auth, 'previous')).status, 201)
    const before = snapshot(config.dataDir)
    const declared = await rawRequest(
      url,
      'PUT',
      '/files/keep.bin',
      { ...auth, 'content-length': String(2 << 20) },
      randomBytes(2 << 20),
    )
    assert.deepEqual(declared.body, { error_code: 1413, error_message: `the file is larger than ${1 << 20} bytes` })
    const chunks = Array.from({ length: 32 }, () => randomBytes(64 * 1024))
    const streamed = await rawRequest(url, 'PUT', '/files/keep.bin', auth, Readable.from(chunks))
    assert.deepEqual(streamed.body, { error_code: 1413, error_message: `the file is larger than ${1 << 20} bytes` })
    const exact = await rawRequest(url, 'PUT', '/files/exact.bin', auth, randomBytes(1 << 20))
    assert.equal(exact.status, 201, 'exactly the limit is allowed')
    await rawRequest(url, 'DELETE', '/files/exact.bin', auth)
    assert.deepEqual(snapshot(config.dataDir), before, 'nothing of the refused uploads is left, not even a temporary file')
    assert.equal((await rawRequest(url, 'GET', '/files/keep.bin', auth)).text, 'previous')
  })

  it('lists by prefix with paging, deletes, and keeps each domain in its own space', async (t) => {
    const { root, client, url } = await startServer(t)
    const { token_local: token } = await filesChannel(root, 'lister')
    const auth = { authorization: `Bearer ${token}` }
    for (const path of ['b/2.txt', 'a/1.txt', 'b/1.txt', 'b10.txt', 'c.txt']) {
      assert.equal((await rawRequest(url, 'PUT', `/files/${path}`, auth, path)).status, 201)
    }
    const list = async (query: string) => rawRequest(url, 'GET', `/files/${query}`, auth)
    const all = await list('')
    assert.deepEqual(
      (all.body as { path: string }[]).map((entry) => entry.path),
      ['a/1.txt', 'b/1.txt', 'b/2.txt', 'b10.txt', 'c.txt'],
    )
    assert.equal(all.headers.get('x-total-count'), '5')
    for (const entry of all.body as unknown[]) assertMatchesSchema(FileEntry, entry)
    const page = await list('?prefix=b/&offset=1&limit=1')
    assert.deepEqual(
      (page.body as { path: string }[]).map((entry) => entry.path),
      ['b/2.txt'],
    )
    assert.equal(page.headers.get('x-total-count'), '2')
    assert.deepEqual(
      ((await rawRequest(url, 'GET', '/files?prefix=b', auth)).body as { path: string }[]).map((entry) => entry.path),
      ['b/1.txt', 'b/2.txt', 'b10.txt'],
    )
    assertError(await list('?limit=1001'), 400, /limit must be at most 1000/, 'limit')
    assertError(await list('?limit=-1'), 400, undefined, 'limit')
    assertError(await list('?sort=path'), 400, /sort/)

    const deleted = await rawRequest(url, 'DELETE', '/files/c.txt', auth)
    assert.equal(deleted.status, 200)
    assert.deepEqual(Object.keys(deleted.body as object), ['path', 'size', 'content_type', 'mtime'])
    assert.deepEqual((deleted.body as { path: string }).path, 'c.txt')
    assert.deepEqual((await rawRequest(url, 'DELETE', '/files/c.txt', auth)).body, {
      error_code: 1404,
      error_message: "no file 'c.txt'",
    })
    assertError(await rawRequest(url, 'GET', '/files/c.txt', auth), 404, /no file 'c.txt'/)

    // Another domain has a space of its own; a domain with files cannot be deleted.
    const acme = json(await root.post(DOMAINS, { name: 'acme' }))
    const acmeRoot = client(ROOT_KEY, { 'switchboard-domain': 'acme' })
    const other = await filesChannel(acmeRoot, 'acme-files')
    const otherAuth = { authorization: `Bearer ${other.token_local}` }
    assert.deepEqual((await rawRequest(url, 'GET', '/files/', otherAuth)).body, [])
    assertError(await rawRequest(url, 'GET', '/files/a/1.txt', otherAuth), 404)
    await rawRequest(url, 'PUT', '/files/a/1.txt', otherAuth, 'acme')
    assert.equal((await rawRequest(url, 'GET', '/files/a/1.txt', auth)).text, 'a/1.txt')
    await acmeRoot.delete(`${CHANNELS}/${other.id}`)
    assertError(await root.delete(`${DOMAINS}/${String(acme.id)}`), 409, /1 files/)
  })

  it('refuses malformed uploads: a bad Content-Type, methods it does not serve', async (t) => {
    const { root, url } = await startServer(t)
    const { token_local: token } = await filesChannel(root, 'malformed')
    const auth = { authorization: `Bearer ${token}` }
    assert.deepEqual((await rawRequest(url, 'PUT', '/files/x', { ...auth, 'content-type': 'not a type' }, 'x')).body, {
      error_code: 1400,
      error_message: 'Content-Type is not a valid media type (type/subtype; parameters)',
    })
    assertError(await rawRequest(url, 'PUT', '/files/x', { ...auth, 'content-type': `text/${'x'.repeat(300)}` }, 'x'), 400)
    assertError(await rawRequest(url, 'POST', '/files/x', auth, 'x'), 404)
    assertError(await rawRequest(url, 'PATCH', '/files/x', auth, 'x'), 404)
    const json = await rawRequest(url, 'PUT', '/files/data.json', { ...auth, 'content-type': 'application/json' }, '{broken')
    assert.equal(json.status, 201, 'a file is bytes: a JSON type is not parsed')
    assert.equal((await rawRequest(url, 'GET', '/files/data.json', auth)).text, '{broken')
  })
})

describe('files from scripts and websockets, and temporary links (SPEC §4, §6.4, §9)', () => {
  it("gives scripts the domain's files: read, write, list, remove and temporary links", async (t) => {
    const { root, url } = await startServer(t)
    await saveScript(
      root,
      'filer',
      `const written = [
         await files.write('notes/a.txt', 'hello'),
         await files.write('bin/b.bin', new Uint8Array([0, 1, 2, 255])),
         await files.write('data/c.json', { n: 1 }),
         await files.write('data/d', 'typed', { contentType: 'text/x-custom' }),
       ]
       const bytes = await files.read('bin/b.bin', { as: 'bytes' })
       const refused = []
       for (const call of [() => files.read('../x'), () => files.read('nope'), () => files.write('x', undefined),
                           () => files.read('notes/a.txt', { as: 'xml' }), () => files.list('/abs'), () => files.tempLink('nope')]) {
         try { await call(); refused.push('no error') } catch (error) { refused.push(error.message) }
       }
       return {
         types: written.map((entry) => entry.content_type),
         sizes: written.map((entry) => entry.size),
         text: await files.read('notes/a.txt'),
         bytes: Array.from(bytes), isBytes: bytes instanceof Uint8Array,
         json: await files.read('data/c.json', { as: 'json' }),
         list: (await files.list('data/')).map((entry) => entry.path),
         page: (await files.list('', { offset: 1, limit: 2 })).map((entry) => entry.path),
         removed: [await files.remove('data/d'), await files.remove('data/d')],
         refused,
         link: await files.tempLink('bin/b.bin'),
       }`,
    )
    const channel = json(
      await root.post(CHANNELS, { code: 'hook', type: 'public', recv_svcscriptcode: 'filer', opts: { issync: true } }),
    )
    const answer = await rawRequest(url, 'POST', '/exec', { authorization: `Bearer ${String(channel.token_local)}` })
    assert.equal(answer.status, 200, answer.text)
    const result = answer.body as Record<string, unknown>
    const link = result.link as string
    assert.match(link, /^\/temp\/[A-Za-z0-9_-]{43}$/)
    assert.deepEqual(result, {
      types: ['text/plain; charset=utf-8', 'application/octet-stream', 'application/json', 'text/x-custom'],
      sizes: [5, 4, 7, 5],
      text: 'hello',
      bytes: [0, 1, 2, 255],
      isBytes: true,
      json: { n: 1 },
      list: ['data/c.json', 'data/d'],
      page: ['data/c.json', 'data/d'],
      removed: [true, false],
      refused: [
        'files.read: invalid file path: .. segments are not allowed',
        "files.read: no file 'nope'",
        'files.write: data is missing (a string, a Uint8Array or a JSON value)',
        "files.read: options.as must be 'text', 'bytes' or 'json'",
        'files.list: invalid file path: it must be relative (no leading /)',
        "files.tempLink: no file 'nope'",
      ],
      link,
    })
    // The files API sees what the script wrote, and the changes are the channel's.
    const store = json(await root.post(CHANNELS, { code: 'store', type: 'public', opts: { allow_files_api: true } }))
    const got = await rawRequest(url, 'GET', '/files/bin/b.bin', { authorization: `Bearer ${String(store.token_local)}` })
    assert.deepEqual([...got.bytes], [0, 1, 2, 255])
    assert.deepEqual(await auditOf(root, 'data/d'), [
      {
        actor: { kind: 'channel', id: channel.id },
        collection: 'files',
        entity_id: 'data/d',
        operation: 'create',
        fields: ['content'],
      },
      { actor: { kind: 'channel', id: channel.id }, collection: 'files', entity_id: 'data/d', operation: 'delete', fields: [] },
    ])

    // The link serves the file without auth, Range included.
    const linked = await rawRequest(url, 'GET', link)
    assert.equal(linked.status, 200)
    assert.deepEqual([...linked.bytes], [0, 1, 2, 255])
    assert.equal(linked.headers.get('content-type'), 'application/octet-stream')
    assert.equal(linked.headers.get('content-security-policy'), 'sandbox')
    const part = await rawRequest(url, 'GET', link, { range: 'bytes=1-2' })
    assert.equal(part.status, 206)
    assert.deepEqual([...part.bytes], [1, 2])
  })

  it('bounds what a script reads and writes at once', async (t) => {
    const { root, url } = await startServer(t, { env: { SWITCHBOARD_FILES_MAX_BYTES: String(16 << 20) } })
    const store = json(await root.post(CHANNELS, { code: 'store', type: 'public', opts: { allow_files_api: true } }))
    await rawRequest(
      url,
      'PUT',
      '/files/huge.bin',
      { authorization: `Bearer ${String(store.token_local)}` },
      randomBytes(9 << 20),
    )
    await saveScript(
      root,
      'greedy',
      `const out = []
       for (const call of [() => files.read('huge.bin'), () => files.write('big.txt', 'x'.repeat(9 << 20))]) {
         try { await call(); out.push('no error') } catch (error) { out.push(error.message) }
       }
       out.push((await files.list('big')).length)
       return out`,
    )
    const channel = json(
      await root.post(CHANNELS, { code: 'hook', type: 'public', recv_svcscriptcode: 'greedy', opts: { issync: true } }),
    )
    const answer = await rawRequest(url, 'POST', '/exec', { authorization: `Bearer ${String(channel.token_local)}` })
    assert.deepEqual(answer.body, [
      `files.read: the file is ${9 << 20} bytes; scripts read at most ${8 << 20}`,
      `files.write: the file is larger than ${8 << 20} bytes`,
      0,
    ])
  })

  it('expires a temporary link after its lifetime, and answers 404 for links it does not know', async (t) => {
    const { root, url } = await startServer(t, { config: { tempLinkMs: 500 } })
    await saveScript(root, 'linker', "await files.write('a.txt', 'soon gone'); return files.tempLink('a.txt')")
    const channel = json(
      await root.post(CHANNELS, { code: 'hook', type: 'public', recv_svcscriptcode: 'linker', opts: { issync: true } }),
    )
    const made = await rawRequest(url, 'POST', '/exec', { authorization: `Bearer ${String(channel.token_local)}` })
    const link = made.text
    const created = performance.now()
    const first = await rawRequest(url, 'GET', link)
    assert.equal(first.text, 'soon gone')
    let gone = first
    while (gone.status === 200 && performance.now() - created < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      gone = await rawRequest(url, 'GET', link)
    }
    assert.ok(performance.now() - created >= 450, 'served until its lifetime ended')
    assert.deepEqual(gone.body, { error_code: 1404, error_message: 'the link does not exist or has expired' })
    for (const unknown of [
      '/temp/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      '/temp/short',
      `/temp/${'x'.repeat(200)}`,
      '/temp/%00',
    ]) {
      const answer = await rawRequest(url, 'GET', unknown)
      assert.equal(answer.status, 404, unknown)
    }
  })

  it('lets a token reach files only with opts.allow_files_api, through every door it opens; scripts are the domain’s code', async (t) => {
    const { root, url } = await startServer(t)
    const store = await filesChannel(root, 'store')
    await rawRequest(url, 'PUT', '/files/report.csv', { authorization: `Bearer ${store.token_local}` }, 'a,b\n1,2\n')
    await saveScript(root, 'linker', "return await files.tempLink('report.csv')")
    const door = json(
      await root.post(CHANNELS, {
        code: 'door',
        type: 'public',
        recv_svcscriptcode: 'linker',
        opts: { issync: true, filter_capabilities: ['files', 'rest'], roles: ['admin'] },
      }),
    )
    const token = door.token_local as string
    const refusal = { error_code: 1403, error_message: 'the channel does not allow the files API (opts.allow_files_api)' }
    // The files API.
    assert.deepEqual((await rawRequest(url, 'GET', '/files/report.csv', { authorization: `Bearer ${token}` })).body, refusal)
    // The websocket files capability: its links serve without auth, so they are a door too.
    const socket = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${token}`)
    t.after(() => socket.socket.close())
    await socket.opened()
    const ask = async (qid: string) => {
      socket.send(['file_get_link', { qid, path: 'report.csv' }])
      return (await socket.answer('file_get_link_result', qid))[1]
    }
    assert.deepEqual(await ask('1'), { qid: '1', result: 'error', ...refusal })
    // The rest capability reaches no files (only /rest/v1/ routes), even with admin rights.
    socket.send(['rest', { qid: 'r', method: 'GET', path: '/files/report.csv' }])
    assert.deepEqual((await socket.answer('rest_result', 'r'))[1], {
      qid: 'r',
      result: 'error',
      error_code: 1400,
      error_message: 'path must be a path of the REST API, starting with /rest/v1/',
    })
    // The option is read at each request: allowed now, on the same connection and over HTTP.
    assert.equal((await root.patch(`${CHANNELS}/${String(door.id)}`, { opts: { allow_files_api: true } })).status, 200)
    const granted = await ask('2')
    assert.equal(granted.result, 'ok', JSON.stringify(granted))
    assert.equal((await rawRequest(url, 'GET', granted.url as string)).text, 'a,b\n1,2\n')
    assert.equal((await rawRequest(url, 'GET', '/files/report.csv', { authorization: `Bearer ${token}` })).text, 'a,b\n1,2\n')
    assert.equal((await root.patch(`${CHANNELS}/${String(door.id)}`, { opts: { allow_files_api: false } })).status, 200)
    assert.deepEqual(await ask('3'), { qid: '3', result: 'error', ...refusal })
    // A script is the domain's code, not the token holder's: files.* works whatever its channel's option.
    const hook = await rawRequest(url, 'POST', `/exec/${token}`)
    assert.equal(hook.status, 200, hook.text)
    assert.match(hook.text, /^\/temp\/[A-Za-z0-9_-]{43}$/)
  })

  it('makes links for websocket clients with the files capability (file_get_link)', async (t) => {
    const { root, url } = await startServer(t)
    const store = json(await root.post(CHANNELS, { code: 'store', type: 'public', opts: { allow_files_api: true } }))
    const auth = { authorization: `Bearer ${String(store.token_local)}` }
    await rawRequest(url, 'PUT', '/files/report.csv', auth, 'a,b\n1,2\n')
    const withFiles = json(
      await root.post(CHANNELS, {
        code: 'ws',
        type: 'public',
        opts: { filter_capabilities: ['files'], allow_files_api: true, roles: [await capabilityRole(root, ['files'])] },
      }),
    )
    const without = json(await root.post(CHANNELS, { code: 'ws2', type: 'public' }))
    const connect = async (token: string) => {
      const socket = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${token}`)
      t.after(() => socket.socket.close())
      await socket.opened()
      return socket
    }
    const socket = await connect(withFiles.token_local as string)
    const ask = async (qid: string, payload: Record<string, unknown>) => {
      socket.send(['file_get_link', { qid, ...payload }])
      return (await socket.answer('file_get_link_result', qid))[1]
    }
    const ok = await ask('1', { path: './report.csv' })
    assert.equal(ok.result, 'ok')
    assert.match(String(ok.url), /^\/temp\/[A-Za-z0-9_-]{43}$/)
    assert.deepEqual(Object.keys(ok), ['qid', 'result', 'url'])
    assert.equal((await rawRequest(url, 'GET', ok.url as string)).text, 'a,b\n1,2\n')
    const error = (qid: string, code: number, message: string) => ({
      qid,
      result: 'error',
      error_code: code,
      error_message: message,
    })
    assert.deepEqual(await ask('2', { path: 'nope.csv' }), error('2', 1404, "no file 'nope.csv'"))
    assert.deepEqual(
      await ask('3', { path: '../report.csv' }),
      error('3', 1400, 'invalid file path: .. segments are not allowed'),
    )
    assert.deepEqual(await ask('4', {}), error('4', 1400, 'file_get_link needs the path of a file'))
    assert.deepEqual(await ask('5', { path: 7 }), error('5', 1400, 'file_get_link needs the path of a file'))
    assert.deepEqual(
      await ask('6', { path: 'x'.repeat(5000) }),
      error('6', 1400, 'invalid file path: a segment is longer than 255 bytes'),
    )
    assert.deepEqual(
      await ask('7', { path: 'a\u0000b' }),
      error('7', 1400, 'invalid file path: it holds NUL or a control character'),
    )
    const plain = await connect(without.token_local as string)
    plain.send(['file_get_link', { qid: 'x', path: 'report.csv' }])
    assert.deepEqual(
      (await plain.answer('file_get_link_result', 'x'))[1],
      error('x', 1403, "the channel does not allow the 'files' capability (opts.filter_capabilities)"),
    )

    // A link to a file deleted since answers 404.
    await rawRequest(url, 'DELETE', '/files/report.csv', auth)
    assert.deepEqual((await rawRequest(url, 'GET', ok.url as string)).body, {
      error_code: 1404,
      error_message: 'the linked file no longer exists',
    })
  })
})
