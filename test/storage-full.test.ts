import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { rawRequest } from './support/raw-http.ts'
import { CHANNELS, json, SCRIPTS, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

/** A tmpfs of `size` at a fresh directory, or why there cannot be one here. */
function smallDisk(size: string): { dir: string; release(): void } | string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    return `mounting a tmpfs needs root in a namespace that allows it: ${String(error).split('\n')[0]}`
  }
  return {
    dir,
    release: () => {
      execFileSync('umount', [dir])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

describe('a full disk (issue 15, item 10)', () => {
  it('answers 507 naming it, loses no accepted webhook and no id, and goes on once there is room', async (t) => {
    const disk = smallDisk('6m')
    if (typeof disk === 'string') return t.skip(disk)
    const { root, url } = await startServer(t, { config: { dataDir: disk.dir, filesMaxBytes: 1 << 20 } })
    // After the server's own clean-up (hooks run in the order they were added).
    t.after(() => disk.release())
    assert.equal((await root.post(SCRIPTS, { code: 'count', source: 'return startparam(4).n' })).status, 200)
    const later = json(await root.post(CHANNELS, { code: 'later', type: 'public', recv_svcscriptcode: 'count' }))
    const drop = json(await root.post(CHANNELS, { code: 'drop', type: 'public', opts: { allow_files_api: true } }))
    const files = { authorization: `Bearer ${String(drop.token_local)}`, 'content-type': 'application/octet-stream' }

    // Fill the disk with files until an upload is refused: 507, saying why, nothing kept.
    const stored: string[] = []
    let refused: Awaited<ReturnType<typeof rawRequest>> | undefined
    for (let i = 0; i < 20 && !refused; i++) {
      const answer = await rawRequest(url, 'PUT', `/files/fill/${i}.bin`, files, Buffer.alloc(512 << 10, i))
      if (answer.status === 201 || answer.status === 200) stored.push(`fill/${i}.bin`)
      else refused = answer
    }
    assert.ok(refused, 'the disk filled up')
    assert.equal(refused.status, 507, refused.text)
    assert.deepEqual(refused.body, {
      error_code: 1507,
      error_message: 'the server’s storage is full: nothing was stored; try again once an operator has made room',
    })

    // Async webhooks: each is accepted (200, its job stored) or refused with 507; none is lost.
    const accepted: string[] = []
    let refusedAccept: Awaited<ReturnType<typeof rawRequest>> | undefined
    for (let n = 0; n < 400 && !refusedAccept; n++) {
      const answer = await rawRequest(
        url,
        'POST',
        `/exec/${String(later.token_local)}`,
        { 'content-type': 'application/json' },
        JSON.stringify({ n, pad: 'x'.repeat(2000) }),
      )
      if (answer.status === 200) accepted.push(json(answer).execution_id as string)
      else refusedAccept = answer
    }
    assert.ok(refusedAccept, 'an accept was refused once the disk was full')
    assert.equal(refusedAccept.status, 507, refusedAccept.text)
    assert.equal((refusedAccept.body as { error_code: number }).error_code, 1507)
    // An id answered 200 never answers 404: its record may wait for room, its job shows it.
    for (const id of accepted) {
      const shown = await root.get(`${EXECUTIONS}/${id}`)
      assert.equal(shown.status, 200, `${id}: ${shown.text}`)
      assert.ok(['queued', 'ok'].includes(String(json(shown).status)))
    }

    // Room again: the records waiting are written, every accepted webhook ran.
    for (const path of stored) {
      assert.equal((await rawRequest(url, 'DELETE', `/files/${path}`, { authorization: files.authorization })).status, 200)
    }
    const deadline = performance.now() + 60_000
    let done = 0
    while (performance.now() < deadline) {
      done = 0
      for (const id of accepted) if (json(await root.get(`${EXECUTIONS}/${id}`)).status === 'ok') done++
      if (done === accepted.length) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    assert.equal(done, accepted.length, `${accepted.length - done} of ${accepted.length} accepted webhooks never ran`)
  })
})
