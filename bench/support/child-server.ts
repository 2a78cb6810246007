import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'

export interface ChildServer {
  /** What the server printed on its `READY {json}` line: at least its `url`. */
  readonly info: { url: string } & Record<string, string>
  /** CPU time (user + system) the server has used so far, all its processes counted, in microseconds. */
  cpuMicros(): number
  /** Resident memory of the server, all its processes counted, bytes. */
  rssBytes(): number
  /** Its processes one by one (the first is the one started): CPU µs and resident bytes. */
  processes(): ProcessUse[]
  stop(): Promise<void>
}

export interface ProcessUse {
  readonly pid: number
  /** Its program and script, e.g. `node …/worker-main.ts`. */
  readonly command: string
  readonly cpuMicros: number
  readonly rssBytes: number
  /**
   * Proportional set size: resident bytes with each page shared between processes (Node's own
   * code, mapped by every process of a node) divided among them, so a sum over processes counts
   * it once. RSS sums count it once per process.
   */
  readonly pssBytes: number
}

/** `root` and every process below it (a node's supervisor, its workers and their script hosts). */
export function processTree(root: number): ProcessUse[] {
  const parents = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // Gone while we looked.
    }
  }
  const tree = [root]
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, parent] of parents) if (parent === tree[i]) tree.push(pid)
  }
  const uses: ProcessUse[] = []
  for (const pid of tree) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((part) => !part.startsWith('--'))
        .join(' ')
      uses.push({
        pid,
        command: command.trim(),
        cpuMicros: processCpuMicros(pid),
        rssBytes: processRssBytes(pid),
        pssBytes: processPssBytes(pid),
      })
    } catch {
      // Gone while we looked.
    }
  }
  return uses
}

function processRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024
}

function processPssBytes(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024
}

const CLOCK_TICKS_PER_SECOND = 100

/** utime + stime of a process from /proc (Linux), in microseconds. */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND
}

/**
 * Runs `script` in its own Node process, so the server under test and the load generator do
 * not share a core. The script prints `READY {"url": …}` when it listens. (With `taskset`, the
 * pid is taskset's until it execs node: the same process.)
 */
export async function startChildServer(
  script: URL,
  env: Record<string, string> = {},
  options: { cpu?: number } = {},
): Promise<ChildServer> {
  const node = [process.execPath, '--no-node-snapshot', '--disable-warning=ExperimentalWarning', script.pathname]
  // `cpu`: pinned to that core (with the script hosts it starts) by taskset, where there is one.
  const command = options.cpu === undefined ? node : ['taskset', '-c', String(options.cpu), ...node]
  const child: ChildProcess = spawn(command[0] as string, command.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const info = await new Promise<ChildServer['info']>((resolve, reject) => {
    let buffer = ''
    child.stdout?.on('data', (chunk) => {
      buffer += chunk
      const line = /^READY (.*)$/m.exec(buffer)
      if (line?.[1]) resolve(JSON.parse(line[1]))
    })
    child.on('exit', (code) => reject(new Error(`${script.pathname} exited with ${code} before it was ready`)))
  })
  return {
    info,
    cpuMicros: () => processTree(child.pid as number).reduce((sum, use) => sum + use.cpuMicros, 0),
    rssBytes: () => processTree(child.pid as number).reduce((sum, use) => sum + use.rssBytes, 0),
    processes: () => processTree(child.pid as number),
    async stop() {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    },
  }
}
