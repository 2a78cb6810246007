import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { it, type TestContext } from 'node:test'
import { blobsContract } from './blobs.contract.ts'
import { BlobTooLargeError, BlobUnsafeError } from './blobs.ts'
import { FilesystemBlobs } from './filesystem-blobs.ts'

blobsContract('filesystem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-blobs-'))
  return { blobs: await FilesystemBlobs.open(join(dir, 'files')), dispose: async () => rmSync(dir, { recursive: true }) }
})

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-blobs-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Every file and directory under `dir`, relative to it. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort()
}

async function* once(bytes: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(bytes)
}

const location = (root: string, space: string, key: string) => {
  const name = createHash('sha256').update(key).digest('hex')
  return join(root, space, name.slice(0, 2), name)
}

it('keeps every blob as one file under its space, and nothing in the temporary directory afterwards', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'files')
  const blobs = await FilesystemBlobs.open(root)
  await blobs.put('dom', '../../outside', once('x'), { contentType: 'text/plain', maxBytes: 100 })
  await assert.rejects(
    blobs.put('dom', 'big', once('y'.repeat(200)), { contentType: 'text/plain', maxBytes: 100 }),
    BlobTooLargeError,
  )
  const file = location(root, 'dom', '../../outside')
  assert.deepEqual(tree(dir), ['files', 'files/.tmp', 'files/dom', relative(dir, join(file, '..')), relative(dir, file)])
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.equal(readFileSync(file).subarray(0, 1).toString(), 'x', 'the bytes come first in the file')
})

it('removes temporary files a dead process left behind when it opens', async (t) => {
  const dir = tempDir(t)
  mkdirSync(join(dir, '.tmp'), { recursive: true })
  writeFileSync(join(dir, '.tmp', 'left-over'), 'half a file')
  await FilesystemBlobs.open(dir)
  assert.deepEqual(readdirSync(join(dir, '.tmp')), [])
})

it('refuses a symbolic link planted where a blob lives, and leaves its target alone', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'files')
  const blobs = await FilesystemBlobs.open(root)
  const secret = join(dir, 'secret.txt')
  writeFileSync(secret, 'do not touch')
  await blobs.put('dom', 'planted', once('real'), { contentType: 'text/plain', maxBytes: 100 })
  const file = location(root, 'dom', 'planted')
  rmSync(file)
  symlinkSync(secret, file)
  await assert.rejects(blobs.open('dom', 'planted'), BlobUnsafeError)
  await assert.rejects(blobs.stat('dom', 'planted'), BlobUnsafeError)
  await assert.rejects(blobs.remove('dom', 'planted'), BlobUnsafeError)
  await assert.rejects(
    blobs.put('dom', 'planted', once('overwrite'), { contentType: 'text/plain', maxBytes: 100 }),
    BlobUnsafeError,
  )
  assert.deepEqual((await blobs.list('dom', { prefix: '', offset: 0, limit: 10 })).items, [])
  assert.equal(readFileSync(secret, 'utf8'), 'do not touch')

  // A space directory that is a link (to somewhere else) is refused too.
  mkdirSync(join(dir, 'elsewhere'))
  symlinkSync(join(dir, 'elsewhere'), join(root, 'linked'))
  await assert.rejects(blobs.put('linked', 'k', once('v'), { contentType: 'text/plain', maxBytes: 100 }), BlobUnsafeError)
  assert.deepEqual(readdirSync(join(dir, 'elsewhere')), [])
})
