import { closeSync, existsSync, fsyncSync, linkSync, openSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import Database from 'better-sqlite3'

export interface SqliteBackup {
  /** Bytes of the copy. */
  readonly bytes: number
  /** How long the copy took, ms. */
  readonly ms: number
}

/** How long the copy waits for a lock the server holds (a checkpoint resetting the WAL), ms. */
const BUSY_TIMEOUT_MS = 10_000

/** Refusals a user can act on (no database there, the target exists, the copy is damaged). */
export class BackupError extends Error {
  override readonly name = 'BackupError'
}

/**
 * Copies the SQLite database at `source` into a new file `target`, while the server keeps
 * reading and writing it.
 *
 * `VACUUM INTO` copies what one read transaction sees: in WAL mode that is a consistent snapshot
 * of the last commit before it began, and it neither waits for the server's writers nor makes
 * them wait (a checkpoint cannot pass the snapshot until the copy ends, so the WAL may grow
 * meanwhile). The online backup API (`sqlite3_backup_step`, better-sqlite3's `backup()`) copies
 * page by page and starts again whenever another connection writes, so under a steady load of
 * execution records it might never end.
 *
 * The copy is written beside `target` under a temporary name, checked (`quick_check`), flushed
 * to disk and renamed into place: `target` is complete or absent, never partial.
 */
export function backupSqliteFile(source: string, target: string): SqliteBackup {
  if (!existsSync(source)) throw new BackupError(`no database at ${source}`)
  if (existsSync(target)) throw existing(target)
  const started = performance.now()
  const partial = join(dirname(target), `.${basename(target)}.partial-${process.pid}`)
  rmSync(partial, { force: true })
  try {
    const database = new Database(source, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS })
    try {
      database.prepare('vacuum into ?').run(partial)
    } finally {
      database.close()
    }
    const copy = new Database(partial, { fileMustExist: true })
    try {
      const result = copy.pragma('quick_check', { simple: true })
      if (result !== 'ok') throw new BackupError(`the copy failed its check (${String(result)}); the database may be damaged`)
    } finally {
      copy.close()
    }
    flush(partial)
    // A link, unlike a rename, fails when the target appeared meanwhile: nothing is overwritten.
    try {
      linkSync(partial, target)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw existing(target)
      throw error
    }
    flush(dirname(target))
  } finally {
    rmSync(partial, { force: true })
  }
  return { bytes: statSync(target).size, ms: performance.now() - started }
}

function existing(target: string): BackupError {
  return new BackupError(`${target} exists: a backup never overwrites a file; choose another name`)
}

function flush(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
