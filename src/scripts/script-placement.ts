import type { ScriptIsolation } from '../config.ts'
import type { ScriptHostsStats } from '../metrics/script-metrics.ts'
import type { DomainHosts } from './host/domain-hosts.ts'
import type { ExecutionScope } from './runtime/host-api.ts'
import type { RunInput, RunnableScript, RunResult, ScriptRuntime } from './runtime/script-runtime.ts'
import type { ScriptLang, SourceProblem } from './runtime/script-source.ts'
import type { ScriptRunner } from './script-runner.ts'

export interface ScriptPlacementOptions {
  /** Isolates in this worker: the fast path, no IPC per run. */
  readonly local: ScriptRuntime
  /** Script-host processes per domain. */
  readonly hosts: DomainHosts
  /** Where a domain's scripts run: its own setting, else the installation's. */
  readonly isolationOf: (domainId: string) => ScriptIsolation
}

/**
 * Decides where each run goes (SPEC §13): in this worker's isolates, or — for a domain in
 * `process` isolation, and for a quarantined script version — in a script host of its domain.
 */
export class ScriptPlacement implements ScriptRunner {
  readonly #options: ScriptPlacementOptions

  constructor(options: ScriptPlacementOptions) {
    this.#options = options
  }

  problem(lang: ScriptLang, source: string): SourceProblem | undefined {
    return this.#options.local.problem(lang, source)
  }

  run(
    script: RunnableScript,
    scope: ExecutionScope,
    input: RunInput,
    timeoutMs: number,
    abort?: AbortSignal,
  ): Promise<RunResult> {
    const inHost = script.quarantined !== undefined || this.#options.isolationOf(scope.domainId) === 'process'
    return inHost
      ? this.#options.hosts.run(script, scope, input, timeoutMs, abort)
      : this.#options.local.run(script, scope, input, timeoutMs, abort)
  }

  /** The isolates of this worker (host `worker`) and of every script host. */
  async stats(): Promise<ScriptHostsStats> {
    const hosts = await this.#options.hosts.stats()
    const local = this.#options.local.stats
    const disposals: Record<string, number> = { ...hosts.disposals }
    for (const [reason, count] of Object.entries(local.disposals)) disposals[reason] = (disposals[reason] ?? 0) + count
    return {
      hosts: [{ host: 'worker', memoryBytes: undefined, isolates: local.isolates, heapBytes: local.heapBytes }, ...hosts.hosts],
      created: hosts.created + local.created,
      disposals,
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#options.local.close(), this.#options.hosts.close()])
  }
}
