import { stripTypeScriptTypes } from 'node:module'
import ivm from 'isolated-vm'

export type ScriptLang = 'js' | 'ts'

/** Where a source fails to compile, in the user's own lines and columns (1-based). */
export interface SourceProblem {
  readonly message: string
  readonly line: number
  readonly column: number
}

/** Lines the wrapper adds before the user's source. */
const WRAPPER_LINES = 1

/**
 * The script as the isolate compiles it: the user's source is the body of an async function
 * whose parameters are the script API. TypeScript is type-stripped (Node's
 * `module.stripTypeScriptTypes`, which keeps every position), so lines and columns match.
 *
 * A source without the word `await` cannot suspend, so it is compiled as a plain function: it
 * then finishes inside the host's first call (one call instead of two per execution). A
 * returned promise is still awaited. The word in a string or comment only costs the fast path.
 */
export function wrapSource(lang: ScriptLang, source: string, parameters: readonly string[]): string {
  const kind = /\bawait\b/.test(source) ? 'async function' : 'function'
  const wrapped = `(${kind} (${parameters.join(', ')}) {\n${source}\n})`
  return lang === 'ts' ? stripTypeScriptTypes(wrapped, { mode: 'strip' }) : wrapped
}

/**
 * Which of `names` (the script API's module names, `log` first) the source can reach: a name it
 * mentions as a word, or all of them when it uses `eval` (which reaches parameters by strings).
 * A module the script cannot reach is not built for its runs: most scripts use few of them.
 */
export function namesUsed(source: string, names: readonly string[]): boolean[] {
  if (/\beval\b/.test(source)) return names.map(() => true)
  return names.map((name) => new RegExp(`\\b${name}\\b`).test(source))
}

/** Maps a line of the wrapped code to the user's line. */
export function sourceLine(wrappedLine: number): number {
  return Math.max(1, wrappedLine - WRAPPER_LINES)
}

/**
 * Checks that a script compiles, without running any of it: TypeScript must strip and the
 * result must parse. A small isolate of its own does the parsing, so the check sees exactly what
 * the runtime will.
 */
export class SourceChecker {
  readonly #isolate = new ivm.Isolate({ memoryLimit: 32 })
  readonly #parameters: readonly string[]

  constructor(parameters: readonly string[]) {
    this.#parameters = parameters
  }

  problem(lang: ScriptLang, source: string): SourceProblem | undefined {
    let code: string
    try {
      code = wrapSource(lang, source, this.#parameters)
    } catch (error) {
      return typeScriptProblem(error)
    }
    try {
      this.#isolate.compileScriptSync(code, { filename: 'svcscript' }).release()
      return undefined
    } catch (error) {
      return compileProblem(error)
    }
  }

  dispose(): void {
    if (!this.#isolate.isDisposed) this.#isolate.dispose()
  }
}

/** `SyntaxError: Unexpected token ';' [svcscript:3:11]` → line 2, column 11. */
function compileProblem(error: unknown): SourceProblem {
  const message = error instanceof Error ? error.message : String(error)
  const at = /\s*\[svcscript:(\d+):(\d+)\]$/.exec(message)
  if (!at) return { message, line: 1, column: 1 }
  return {
    message: message.slice(0, at.index).replace(/^SyntaxError: /, ''),
    line: sourceLine(Number(at[1])),
    column: Number(at[2]),
  }
}

/**
 * Node's TypeScript errors carry the position only in their stack text: `:3`, a line or two of
 * source, a caret line under the column, then `SyntaxError [ERR_INVALID_TYPESCRIPT_SYNTAX]: …`.
 */
function typeScriptProblem(error: unknown): SourceProblem {
  const message = error instanceof Error ? error.message : String(error)
  const lines = (error instanceof Error ? (error.stack ?? '') : '').split('\n')
  const line = /^:(\d+)$/.exec(lines[0] ?? '')?.[1]
  const caret = lines.find((text) => /^\s*\^+\s*$/.test(text)) ?? ''
  const column = caret.indexOf('^')
  return {
    message,
    line: line === undefined ? 1 : sourceLine(Number(line)),
    column: column === -1 ? 1 : column + 1,
  }
}
