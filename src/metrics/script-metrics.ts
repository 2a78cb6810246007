import type { Registry } from 'prom-client'
import { counter, type Family, gauge, type Series } from './metric-families.ts'

/** Why a script host process was replaced. */
export type HostStopCause = 'memory' | 'unresponsive' | 'exited' | 'tainted'

/** What the script hosts report (gathered over their IPC channel at each scrape). */
export interface ScriptHostsStats {
  /** One entry per host process alive now, and one (`worker`) for the isolates of the worker itself. */
  readonly hosts: readonly {
    readonly host: string
    /** Resident memory of the process, bytes (undefined: unknown). */
    readonly memoryBytes: number | undefined
    readonly isolates: number
    readonly heapBytes: number
  }[]
  /** Isolates created, over every host process so far. */
  readonly created: number
  /** Isolates disposed, by reason, over every host process so far. */
  readonly disposals: Readonly<Record<string, number>>
}

export class ScriptMetrics {
  readonly #restarts: Family<Series>
  readonly #tainted: Family<Series>
  #source: (() => Promise<ScriptHostsStats>) | undefined

  constructor(registry: Registry) {
    // One scrape asks the hosts once; every family below reads that answer.
    let asked: Promise<ScriptHostsStats | undefined> | undefined
    const stats = () => {
      asked ??= (this.#source?.() ?? Promise.resolve(undefined)).finally(() => {
        setImmediate(() => {
          asked = undefined
        })
      })
      return asked
    }
    const perHost = (name: string, help: string, pick: (host: ScriptHostsStats['hosts'][number]) => number | undefined) => {
      const family: Family<Series> = gauge(registry, {
        name,
        help,
        labelNames: ['host'],
        collect: async () => {
          const now = await stats()
          family.clear()
          for (const host of now?.hosts ?? []) {
            const value = pick(host)
            if (value !== undefined) family.series(host.host).value = value
          }
        },
      })
    }
    const hosts = gauge(registry, {
      name: 'switchboard_script_hosts',
      help: 'Script host processes alive (domains in process isolation, quarantined scripts)',
      collect: async () => {
        hosts.series().value = (await stats())?.hosts.filter((host) => host.host !== 'worker').length ?? 0
      },
    })
    perHost('switchboard_script_host_memory_bytes', 'Resident memory of each script host process', (host) => host.memoryBytes)
    perHost(
      'switchboard_isolates',
      'Warm script isolates of the worker (host "worker") and of each script host process (besides one spare each)',
      (host) => host.isolates,
    )
    perHost('switchboard_isolate_heap_bytes', 'Heap used by the isolates of each script host process', (host) => host.heapBytes)
    const created = counter(registry, {
      name: 'switchboard_isolates_created_total',
      help: 'Script isolates created',
      collect: async () => {
        created.series().value = (await stats())?.created ?? 0
      },
    })
    const disposals = counter(registry, {
      name: 'switchboard_isolate_disposals_total',
      help: 'Script isolates disposed, by reason (evicted, memory, cpu, timeout, load_failed, shutdown, host_stopped)',
      labelNames: ['reason'],
      collect: async () => {
        for (const [reason, count] of Object.entries((await stats())?.disposals ?? {})) disposals.series(reason).value = count
      },
    })
    this.#restarts = counter(registry, {
      name: 'switchboard_script_host_restarts_total',
      help: 'Script host processes replaced, by cause (memory: over its cap, unresponsive: no heartbeat, exited)',
      labelNames: ['cause'],
    })
    this.#tainted = counter(registry, {
      name: 'switchboard_isolates_tainted_total',
      help: 'Isolates that reached their memory limit in a worker (V8 may not have stopped them): each drains and replaces its worker, and quarantines its script version',
    })
  }

  /** An isolate of this worker reached its memory limit: the worker is replaced. */
  tainted(): void {
    this.#tainted.series().value++
  }

  restarted(cause: HostStopCause): void {
    this.#restarts.series(cause).value++
  }

  /** Where the host and isolate metrics come from. */
  watch(source: () => Promise<ScriptHostsStats>): void {
    this.#source = source
  }
}
