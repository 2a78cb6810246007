import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { IpcBusRelay } from '../bus/ipc-bus-relay.ts'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { isFromWorker } from './from-worker.ts'
import type { FromWorker, ToWorker } from './link-protocol.ts'
import { residentMb } from './resident-memory.ts'

export interface SupervisorOptions {
  readonly config: Config
  readonly logger: Logger
  /** The worker's entry point (default: worker-main.ts). */
  readonly entry?: URL
  /** Extra environment for the workers (tests). */
  readonly env?: Readonly<Record<string, string>>
}

/** What the first worker reported when the node came up. */
export interface NodeStarted {
  readonly url: string
  readonly firstStart: boolean
  /** The root key generated on the first start (printed once), or null. */
  readonly rootKey: string | null
}

type WorkerState = 'starting' | 'ready' | 'draining'

interface WorkerProcess {
  /** Unique over the supervisor's life (relay routing); `slot` is what a replacement takes over. */
  readonly id: number
  readonly slot: number
  readonly child: ChildProcess
  readonly startedAt: number
  state: WorkerState
  /** Its id on the bus, once ready. */
  node: string | undefined
  readonly ready: Promise<Extract<FromWorker, { t: 'ready' }>>
  readonly exited: Promise<void>
}

const ENTRY = new URL('./worker-main.ts', import.meta.url)
const MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req'
const WATCH_EVERY_MS = 500
/** A worker that dies this soon after it started counts towards a crash loop. */
const EARLY_EXIT_MS = 5000
/** The longest wait before a dead worker's slot is filled again (SPEC §13: within 2 s). */
const MAX_RESTART_DELAY_MS = 2000
/** A drained worker still there this long after its shutdown bound is killed. */
const DRAIN_SLACK_MS = 5000

/**
 * The node's supervisor (SPEC §13): it serves no requests. It forks SWITCHBOARD_WORKERS worker
 * processes — each serves every route on the one port (reusePort) and runs scripts in isolates of
 * its own — relays the embedded bus between them, restarts a worker that dies, replaces one that
 * is tainted (an isolate V8 may not have stopped) or over its memory cap once its successor is
 * ready, and on SIGHUP replaces them all, one after the other.
 */
export class Supervisor {
  readonly #options: SupervisorOptions
  readonly #relay = new IpcBusRelay()
  readonly #workers = new Map<number, WorkerProcess>()
  /** Per slot: early deaths in a row (crash-loop backoff). */
  readonly #earlyDeaths = new Map<number, number>()
  readonly #epoch = randomBytes(8).toString('hex')
  #nextId = 1
  #port: number
  #stopping = false
  #watch: NodeJS.Timeout | undefined
  #rolling: Promise<void> | undefined

  constructor(options: SupervisorOptions) {
    this.#options = options
    this.#port = options.config.port
  }

  /** Starts worker 0 (it migrates the store and learns the port), then the others. */
  async start(): Promise<NodeStarted> {
    this.#migrateRequests()
    const ready = await readyOrExited(this.#spawn(0))
    this.#port = Number(new URL(ready.url).port)
    // A worker that dies while the node starts fails the start: its replacement's readiness is
    // another promise, and waiting on the dead one's would hang the start for ever.
    await Promise.all(Array.from({ length: this.#options.config.workers - 1 }, (_, i) => readyOrExited(this.#spawn(i + 1))))
    this.#watch = setInterval(() => this.#checkMemory(), WATCH_EVERY_MS)
    this.#watch.unref()
    return { url: ready.url, firstStart: ready.firstStart, rootKey: ready.rootKey }
  }

  /** Worker processes alive now, by slot (tests, the CLI's status). */
  pids(): number[] {
    return [...this.#workers.values()].map((worker) => worker.child.pid as number)
  }

  /**
   * Replaces every worker, one after the other: the successor first, then the old one drains
   * (websockets closed with 1012). SIGHUP does this; so can an upgrade on disk.
   */
  rollingRestart(): Promise<void> {
    this.#rolling ??= (async () => {
      const slots = [...new Set([...this.#workers.values()].map((worker) => worker.slot))].sort((a, b) => a - b)
      for (const slot of slots) {
        if (this.#stopping) return
        const old = [...this.#workers.values()].find((worker) => worker.slot === slot && worker.state !== 'draining')
        if (old) await this.#replace(old, 'rolling restart')
      }
    })().finally(() => {
      this.#rolling = undefined
    })
    return this.#rolling
  }

  /** Graceful shutdown: every worker drains (websockets 1001, jobs handed back); stragglers are killed. */
  async stop(): Promise<void> {
    this.#stopping = true
    clearInterval(this.#watch)
    const all = [...this.#workers.values()]
    for (const worker of all) this.#drain(worker, 1001, 'the server is shutting down')
    await Promise.all(all.map((worker) => worker.exited))
  }

  /** At once: every worker is killed (a second signal). */
  kill(): void {
    this.#stopping = true
    for (const worker of this.#workers.values()) worker.child.kill('SIGKILL')
  }

  #spawn(slot: number): WorkerProcess {
    const { config, logger } = this.#options
    const child = fork(this.#options.entry ?? ENTRY, [], {
      execArgv: ['--no-node-snapshot', '--disable-warning=ExperimentalWarning'],
      env: {
        ...process.env,
        ...this.#options.env,
        SWITCHBOARD_WORKER_INDEX: String(slot),
        SWITCHBOARD_NODE_EPOCH: this.#epoch,
        SWITCHBOARD_PORT: String(this.#port),
      },
      serialization: 'json',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const id = this.#nextId++
    let onReady: (message: Extract<FromWorker, { t: 'ready' }>) => void = () => {}
    const worker: WorkerProcess = {
      id,
      slot,
      child,
      startedAt: performance.now(),
      state: 'starting',
      node: undefined,
      ready: new Promise((resolve) => {
        onReady = resolve
      }),
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    }
    // Nobody waits on `ready` for a worker that dies first: no unhandled rejection, it never settles.
    this.#workers.set(id, worker)
    this.#relay.attach(id, (message) => this.#send(worker, message))
    child.on('message', (message: unknown) => {
      if (!isFromWorker(message)) {
        logger.error({ worker: slot, pid: child.pid }, 'a worker sent a message this supervisor does not know; ignored')
        return
      }
      if (message.t === 'ready') {
        worker.node = message.node
        if (worker.state === 'starting') worker.state = 'ready'
        this.#earlyDeaths.delete(slot)
        onReady(message)
      } else if (message.t === 'tainted') {
        logger.error({ worker: slot, pid: child.pid, reason: message.reason }, 'worker tainted; replacing it')
        if (worker.state !== 'draining') void this.#replace(worker, message.reason, true)
      } else {
        this.#relay.receive(id, message)
      }
    })
    child.on('error', (error) => logger.error({ err: error, worker: slot }, 'worker process error'))
    child.on('exit', (code, signal) => this.#exited(worker, code, signal))
    logger.debug({ worker: slot, pid: child.pid, port: this.#port, config_workers: config.workers }, 'worker started')
    return worker
  }

  #send(worker: WorkerProcess, message: ToWorker): void {
    if (!worker.child.connected) return
    try {
      worker.child.send(message)
    } catch (error) {
      this.#options.logger.error({ err: error, worker: worker.slot }, 'a message to a worker could not be sent')
    }
  }

  #exited(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const { logger } = this.#options
    this.#workers.delete(worker.id)
    this.#relay.detach(worker.id)
    // The others stop waiting for it at once: change confirmations, and its queue leases.
    if (worker.node !== undefined) this.#relay.publish('nodes.alive', { node: worker.node, bye: true })
    if (worker.state === 'draining' || this.#stopping) {
      logger.debug({ worker: worker.slot, code, signal }, 'worker left')
      return
    }
    const early = performance.now() - worker.startedAt < EARLY_EXIT_MS
    const deaths = early ? (this.#earlyDeaths.get(worker.slot) ?? 0) + 1 : 0
    this.#earlyDeaths.set(worker.slot, deaths)
    const delay = deaths === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** deaths)
    logger.error(
      { worker: worker.slot, pid: worker.child.pid, code, signal, restart_in_ms: delay },
      'worker died; starting another',
    )
    setTimeout(() => {
      if (!this.#stopping) this.#spawn(worker.slot)
    }, delay).unref()
  }

  /**
   * The old worker drains (1012) and leaves, and a successor takes its slot. Normally the
   * successor serves first; an `urgent` one (tainted, over its memory cap) drains at once when
   * another worker serves meanwhile.
   */
  async #replace(old: WorkerProcess, reason: string, urgent = false): Promise<void> {
    if (old.state === 'draining') return
    const othersServe = [...this.#workers.values()].some((worker) => worker !== old && worker.state === 'ready')
    old.state = 'draining'
    const successor = this.#spawn(old.slot)
    if (!urgent || !othersServe) await Promise.race([successor.ready, successor.exited])
    this.#drain(old, 1012, reason)
    await old.exited
  }

  #drain(worker: WorkerProcess, code: 1001 | 1012, reason: string): void {
    worker.state = 'draining'
    this.#send(worker, { t: 'drain', code, reason })
    // Not connected (it never finished starting): nothing to drain.
    if (!worker.child.connected) worker.child.kill('SIGTERM')
    const bound = this.#options.config.shutdownTimeoutMs + DRAIN_SLACK_MS
    const kill = setTimeout(() => {
      this.#options.logger.warn(
        { worker: worker.slot, pid: worker.child.pid, ms: bound },
        'a draining worker did not leave; killed',
      )
      worker.child.kill('SIGKILL')
    }, bound)
    kill.unref()
    void worker.exited.then(() => clearTimeout(kill))
  }

  /**
   * The workers share the port through SO_REUSEPORT, one listening socket each. When a worker
   * drains, connections still queued on its socket would be reset by the kernel, unless it moves
   * them to the other sockets of the group (Linux ≥ 5.14, net.ipv4.tcp_migrate_req). Turned on
   * when it is off and this process may (root in its network namespace); docs/operations.md.
   */
  #migrateRequests(): void {
    const { logger } = this.#options
    try {
      if (readFileSync(MIGRATE_REQ, 'utf8').trim() !== '0') return
      writeFileSync(MIGRATE_REQ, '1')
      logger.info('net.ipv4.tcp_migrate_req turned on: a draining worker hands its queued connections to the others')
    } catch (error) {
      logger.warn(
        { err: error },
        'net.ipv4.tcp_migrate_req is off and cannot be turned on here: connections queued at a draining worker may be reset (docs/operations.md)',
      )
    }
  }

  /** The backstop of containment: a worker past its memory cap is replaced, far past it killed. */
  #checkMemory(): void {
    const capMb = this.#options.config.workerMemoryMb
    for (const worker of this.#workers.values()) {
      const rssMb = worker.child.pid === undefined ? undefined : residentMb(worker.child.pid)
      if (rssMb === undefined || rssMb <= capMb) continue
      if (worker.state === 'draining' && rssMb > capMb * 1.5) {
        this.#options.logger.error({ worker: worker.slot, rss_mb: rssMb }, 'a draining worker keeps growing; killed')
        worker.child.kill('SIGKILL')
      } else if (worker.state === 'ready') {
        const reason = `it used ${rssMb} MB of memory (the cap is ${capMb} MB)`
        this.#options.logger.error({ worker: worker.slot, rss_mb: rssMb }, 'worker over its memory cap; replacing it')
        void this.#replace(worker, reason, true)
      }
    }
  }
}

/** A starting worker's ready message, or an error if it exits first. */
function readyOrExited(worker: WorkerProcess): Promise<Extract<FromWorker, { t: 'ready' }>> {
  return Promise.race([
    worker.ready,
    worker.exited.then(() => {
      throw new Error(`worker ${worker.slot} exited before it was ready (its log says why)`)
    }),
  ])
}
