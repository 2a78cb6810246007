import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type Client, httpClient, ROOT_KEY } from './server.ts'

/** A real node: `switchboard serve` — the supervisor and its worker processes (SPEC §13). */
export interface TestNode {
  readonly url: string
  readonly root: Client
  readonly dataDir: string
  readonly supervisor: ChildProcess
  /** What the node has printed so far (its JSON log lines and the banner). */
  output(): string
  /** The worker processes alive now: pid → CPU seconds used so far. */
  workers(): Map<number, number>
  /** Script host processes alive now (children of the workers). */
  hosts(): number[]
  /** Resolves once `test` holds (checked every 50 ms), or fails the test after `ms`. */
  until(test: () => boolean | Promise<boolean>, ms?: number, what?: string): Promise<void>
  /** A graceful stop (SIGTERM); resolves with the supervisor's exit code. */
  stop(): Promise<number | null>
}

const CLI = new URL('../../src/cli.ts', import.meta.url).pathname

/**
 * Starts `switchboard serve` on a free port with a data directory of its own (or `dataDir`, to
 * start a node again on the state of an earlier one), stopped after the test.
 */
export async function startNode(
  t: TestContext,
  options: { workers?: number; env?: Record<string, string>; dataDir?: string } = {},
): Promise<TestNode> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'switchboard-node-'))
  const supervisor = spawn(process.execPath, ['--no-node-snapshot', '--disable-warning=ExperimentalWarning', CLI, 'serve'], {
    env: {
      ...process.env,
      SWITCHBOARD_HOST: '127.0.0.1',
      SWITCHBOARD_PORT: '0',
      SWITCHBOARD_DATA_DIR: dataDir,
      SWITCHBOARD_ADMIN_KEY: ROOT_KEY,
      SWITCHBOARD_LOG_LEVEL: 'warn',
      SWITCHBOARD_WORKERS: String(options.workers ?? 2),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  supervisor.stdout?.on('data', (chunk) => {
    output += chunk
  })
  supervisor.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const exited = once(supervisor, 'exit').then(([code]) => code as number | null)
  t.after(async () => {
    // A failed test shows what the node logged (warnings and errors: a worker tainted, killed, …).
    // (`passed` is Node's, since 21.7; @types/node does not declare it.)
    if (!(t as TestContext & { passed: boolean }).passed) t.diagnostic(`the node's output:\n${output.slice(-6000)}`)
    if (supervisor.exitCode === null && supervisor.signalCode === null) {
      supervisor.kill('SIGTERM')
      const timer = setTimeout(() => supervisor.kill('SIGKILL'), 30_000)
      await exited
      clearTimeout(timer)
    }
    // Workers and hosts of a supervisor that was killed leave when their IPC channel closes.
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
  })
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const found = /listening on (http:\/\/\S+) \(/.exec(output)
      if (found?.[1]) resolve(found[1])
    }
    supervisor.stdout?.on('data', onData)
    void exited.then((code) => reject(new Error(`the node exited with ${code} before it listened:\n${output}`)))
  })
  const until = async (test: () => boolean | Promise<boolean>, ms = 30_000, what = 'the condition') => {
    const deadline = performance.now() + ms
    while (!(await test())) {
      if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${output.slice(-3000)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return {
    url,
    root: httpClient(url, ROOT_KEY),
    dataDir,
    supervisor,
    output: () => output,
    workers: () => childrenOf(supervisor.pid as number, 'worker-main'),
    hosts: () =>
      [...childrenOf(supervisor.pid as number, 'worker-main').keys()].flatMap((pid) => [
        ...childrenOf(pid, 'script-host-main').keys(),
      ]),
    until,
    stop: async () => {
      supervisor.kill('SIGTERM')
      return exited
    },
  }
}

/** Child processes of `parent` whose command line names `entry`: pid → CPU seconds used. */
export function childrenOf(parent: number, entry: string): Map<number, number> {
  const found = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) !== parent) continue
      if (!readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(entry)) continue
      found.set(Number(name), (Number(fields[11]) + Number(fields[12])) / 100)
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}
