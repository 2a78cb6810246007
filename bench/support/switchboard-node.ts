import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BENCH_KEY, createBenchEntities } from './bench-entities.ts'
import { type ChildServer, processTree } from './child-server.ts'

/** The built server, as bin/switchboard runs it (bin/bench builds it first). */
const CLI = new URL('../../.build/src/cli.js', import.meta.url).pathname

/**
 * A Switchboard node as users run it — `switchboard serve`: the supervisor and its workers — on a
 * fresh data directory, with the benches' channels (bench-entities.ts). CPU and memory count every
 * process of the node. `cpus`: a taskset list the whole node is pinned to (e.g. "0" or "0,1").
 */
export async function startSwitchboard(
  options: { workers?: number; cpus?: string; env?: Record<string, string> } = {},
): Promise<ChildServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'))
  const node = [process.execPath, '--no-node-snapshot', '--disable-warning=ExperimentalWarning', CLI, 'serve']
  const command = options.cpus === undefined ? node : ['taskset', '-c', options.cpus, ...node]
  const child: ChildProcess = spawn(command[0] as string, command.slice(1), {
    env: {
      ...process.env,
      SWITCHBOARD_HOST: '127.0.0.1',
      SWITCHBOARD_PORT: '0',
      SWITCHBOARD_DATA_DIR: dataDir,
      SWITCHBOARD_ADMIN_KEY: BENCH_KEY,
      SWITCHBOARD_LOG_LEVEL: 'warn',
      ...(options.workers !== undefined && { SWITCHBOARD_WORKERS: String(options.workers) }),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = ''
    child.stdout?.on('data', (chunk) => {
      buffer += chunk
      const found = /listening on (http:\/\/\S+) \(/.exec(buffer)
      if (found?.[1]) resolve(found[1])
    })
    child.on('exit', (code) => reject(new Error(`switchboard serve exited with ${code} before it listened`)))
  })
  const entities = await createBenchEntities(url)
  return {
    info: { url, key: BENCH_KEY, ...entities },
    cpuMicros: () => processTree(child.pid as number).reduce((sum, use) => sum + use.cpuMicros, 0),
    rssBytes: () => processTree(child.pid as number).reduce((sum, use) => sum + use.rssBytes, 0),
    processes: () => processTree(child.pid as number),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
