import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

/** Thrown when another live process holds the data directory. */
export class DatabaseInUseError extends Error {
  override readonly name = 'DatabaseInUseError'
}

/**
 * One node owns an embedded data directory: its workers share the SQLite file (WAL), but a
 * second node on the same directory would keep its own in-memory directories and miss the first
 * one's changes, so it must not start. The owner writes its pid into `<database>.lock`; a lock
 * whose process is gone (a crash, kill -9) is taken over.
 */
export class DataDirLock {
  readonly #file: string
  #held = false

  private constructor(file: string) {
    this.#file = file
  }

  /** Takes the lock of `database` (the SQLite file's path); throws DatabaseInUseError when a live process has it. */
  static acquire(database: string): DataDirLock {
    const lock = new DataDirLock(`${database}.lock`)
    mkdirSync(dirname(database), { recursive: true })
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(lock.#file, 'wx')
        writeSync(fd, `${process.pid}\n`)
        closeSync(fd)
        lock.#held = true
        return lock
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const owner = ownerOf(lock.#file)
      if (owner !== undefined && owner !== process.pid && alive(owner)) {
        throw new DatabaseInUseError(
          `${database} is in use by another process (is another Switchboard running on this data directory?)`,
        )
      }
      // Left by a process that is gone: take it over.
      rmSync(lock.#file, { force: true })
    }
    throw new DatabaseInUseError(
      `${database} is in use by another process (is another Switchboard running on this data directory?)`,
    )
  }

  release(): void {
    if (!this.#held) return
    this.#held = false
    if (ownerOf(this.#file) === process.pid) rmSync(this.#file, { force: true })
  }
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, owned by another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
