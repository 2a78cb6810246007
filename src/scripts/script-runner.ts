import type { ExecutionScope } from './runtime/host-api.ts'
import type { RunInput, RunnableScript, RunResult } from './runtime/script-runtime.ts'
import type { ScriptLang, SourceProblem } from './runtime/script-source.ts'

/**
 * Runs service scripts. `ScriptRuntime` runs them in isolates of this process (tests, and the
 * engine inside each script host); `ScriptHosts` runs that same engine in supervised child
 * processes, so an isolate that V8 cannot stop never takes the server with it.
 */
export interface ScriptRunner {
  /** Where `source` fails to compile, or undefined. Nothing of it runs. */
  problem(lang: ScriptLang, source: string): SourceProblem | undefined
  run(script: RunnableScript, scope: ExecutionScope, input: RunInput, timeoutMs: number, abort?: AbortSignal): Promise<RunResult>
  close(): Promise<void>
}
