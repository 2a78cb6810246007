import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import { DatabaseInUseError, DataDirLock } from './data-dir-lock.ts'

it('holds a data directory against a second node, and takes over a lock whose process is gone', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-lock-'))
  t.after(() => rmSync(dir, { recursive: true }))
  const database = join(dir, 'switchboard.db')
  // A lock left by a process that is gone (kill -9): a pid that exited.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  writeFileSync(`${database}.lock`, `${gone.stdout}\n`)
  const lock = DataDirLock.acquire(database)
  assert.equal(readFileSync(`${database}.lock`, 'utf8'), `${process.pid}\n`)
  // Another live process holds it now: a second node is refused.
  writeFileSync(`${database}.lock`, `${process.ppid}\n`)
  assert.throws(
    () => DataDirLock.acquire(database),
    (error: unknown) =>
      error instanceof DatabaseInUseError &&
      error.message === `${database} is in use by another process (is another Switchboard running on this data directory?)`,
  )
  // A release removes only its own lock.
  lock.release()
  assert.equal(readFileSync(`${database}.lock`, 'utf8'), `${process.ppid}\n`)
})
