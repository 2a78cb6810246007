import type { ScriptHostsStats } from '../../metrics/script-metrics.ts'
import type { ExecutionScope } from '../runtime/host-api.ts'
import type { RunInput, RunnableScript, RunResult } from '../runtime/script-runtime.ts'
import { type HostErrorSource, type HostEvent, ScriptHosts, type ScriptHostsOptions } from './script-hosts.ts'

export interface DomainHostsOptions extends Omit<ScriptHostsOptions, 'hosts' | 'onHostEvent' | 'onError'> {
  /** A domain's host that ran nothing for this long leaves, ms. */
  readonly idleMs: number
  readonly onHostEvent?: (event: HostEvent & { readonly domainId: string }) => void
  /** A failure nobody sees: a domain's hosts' (`where`, as ScriptHostsOptions.onError), or an idle host's leaving. */
  readonly onError: (error: unknown, where?: HostErrorSource & { readonly domainId: string }) => void
}

interface DomainEntry {
  readonly hosts: ScriptHosts
  lastUsed: number
  running: number
}

const REAP_EVERY_MS = 10_000
/**
 * Unix niceness of the hosts of quarantined script versions: below the workers (0), so a version
 * that ran away once takes only the CPU the workers leave idle.
 */
const QUARANTINE_NICENESS = 10

/**
 * Script-host processes per domain (SPEC §13 `process` isolation): a domain's scripts run only in
 * a host of their own domain, so nothing one of them does can fail another domain's work. Its
 * quarantined script versions run in another host of that domain, at a lower priority, so they
 * cannot fail its other scripts either. A host starts at its first run and leaves when idle.
 */
export class DomainHosts {
  readonly #options: DomainHostsOptions
  readonly #domains = new Map<string, DomainEntry>()
  readonly #reaper: NodeJS.Timeout
  /** Totals of the hosts that left, so the counters never go back. */
  #goneCreated = 0
  readonly #goneDisposals: Record<string, number> = {}
  #closed = false

  constructor(options: DomainHostsOptions) {
    this.#options = options
    this.#reaper = setInterval(() => this.#reap(), REAP_EVERY_MS)
    this.#reaper.unref()
  }

  async run(
    script: RunnableScript,
    scope: ExecutionScope,
    input: RunInput,
    timeoutMs: number,
    abort?: AbortSignal,
  ): Promise<RunResult> {
    if (this.#closed) return { kind: 'stopped', reason: 'the server is shutting down' }
    const entry = this.#entry(scope.domainId, script.quarantined !== undefined)
    entry.running++
    try {
      return await entry.hosts.run(script, scope, input, timeoutMs, abort)
    } finally {
      entry.running--
      entry.lastUsed = performance.now()
    }
  }

  async stats(): Promise<ScriptHostsStats> {
    const all = await Promise.all([...this.#domains.values()].map((entry) => entry.hosts.stats()))
    let created = this.#goneCreated
    const disposals: Record<string, number> = { ...this.#goneDisposals }
    for (const stats of all) {
      created += stats.created
      for (const [reason, count] of Object.entries(stats.disposals)) disposals[reason] = (disposals[reason] ?? 0) + count
    }
    return { hosts: all.flatMap((stats) => stats.hosts), created, disposals }
  }

  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#reaper)
    const entries = [...this.#domains.values()]
    this.#domains.clear()
    await Promise.all(entries.map((entry) => entry.hosts.close()))
  }

  #entry(domainId: string, quarantined: boolean): DomainEntry {
    const key = poolKey(domainId, quarantined)
    let entry = this.#domains.get(key)
    if (!entry) {
      const { onHostEvent, idleMs: _idle, onError, ...options } = this.#options
      entry = {
        hosts: ScriptHosts.start({
          ...options,
          hosts: 1,
          label: key,
          ...(quarantined && { niceness: QUARANTINE_NICENESS }),
          onError: (error, where) => onError(error, { ...where, domainId }),
          ...(onHostEvent && { onHostEvent: (event: HostEvent) => onHostEvent({ ...event, domainId }) }),
        }),
        lastUsed: performance.now(),
        running: 0,
      }
      this.#domains.set(key, entry)
    }
    return entry
  }

  /** Hosts of domains that ran nothing for `idleMs` leave. */
  #reap(): void {
    const now = performance.now()
    for (const [key, entry] of this.#domains) {
      if (entry.running > 0 || now - entry.lastUsed < this.#options.idleMs) continue
      this.#domains.delete(key)
      entry.hosts
        .stats()
        .then((stats) => {
          this.#goneCreated += stats.created
          for (const [reason, count] of Object.entries(stats.disposals)) {
            this.#goneDisposals[reason] = (this.#goneDisposals[reason] ?? 0) + count
          }
          return entry.hosts.close()
        })
        .catch((error: unknown) => this.#options.onError(error))
    }
  }
}

/** The pool of a domain's hosts, or of its quarantined versions' (named so in metrics). */
function poolKey(domainId: string, quarantined: boolean): string {
  return quarantined ? `${domainId}/quarantine` : domainId
}
