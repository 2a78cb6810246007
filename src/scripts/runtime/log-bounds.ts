import type { ScriptLogLevel } from './host-api.ts'

export interface LogLimits {
  /** Most lines kept per execution; later ones are counted. */
  readonly maxLines: number
  /** Most characters kept per execution. */
  readonly maxChars: number
}

const RANK: Readonly<Record<ScriptLogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 }

/**
 * Decides which log lines of one execution are kept: those at or above the script's level, up
 * to the limits. Applied where the lines are produced, so a flood never crosses to the server.
 */
export class LogBounds {
  readonly #limits: LogLimits
  readonly #minRank: number
  #lines = 0
  #chars = 0
  #dropped = 0

  constructor(limits: LogLimits, level: ScriptLogLevel) {
    this.#limits = limits
    this.#minRank = RANK[level]
  }

  accept(level: ScriptLogLevel, text: string): boolean {
    if (RANK[level] < this.#minRank) return false
    if (this.#lines >= this.#limits.maxLines || this.#chars + text.length > this.#limits.maxChars) {
      this.#dropped++
      return false
    }
    this.#lines++
    this.#chars += text.length
    return true
  }

  /** The closing line when lines were dropped. */
  summary(): string | undefined {
    if (this.#dropped === 0) return undefined
    return `${this.#dropped} more log line(s) were dropped: the log limit is ${this.#limits.maxLines} lines or ${this.#limits.maxChars} characters`
  }
}
