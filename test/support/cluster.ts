import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { deleteStreamsOf, newNatsPrefix, TEST_NATS_URL } from './nats.ts'
import { dropSchema, newSchemaName, TEST_DATABASE_URL } from './postgres.ts'
import { type Client, httpClient, ROOT_KEY } from './server.ts'

export interface ClusterNode {
  readonly url: string
  readonly root: Client
  readonly pid: number
  /** Ends the process at once (no shutdown: a crash). */
  kill(): Promise<void>
  /** A graceful stop (SIGTERM). */
  stop(): Promise<void>
}

export interface Cluster {
  readonly nodes: ClusterNode[]
  /** Starts one more node on the same database, bus and queue. */
  add(): Promise<ClusterNode>
}

const NODE_SCRIPT = new URL('./cluster-node.ts', import.meta.url).pathname

/**
 * Starts `count` real server processes that share one PostgreSQL schema and one NATS subject
 * prefix (so parallel tests never meet), all stopped after the test, and the schema and the
 * prefix's streams removed.
 */
export async function startCluster(
  t: TestContext,
  count: number,
  options: { natsUrl?: string; env?: Record<string, string> } = {},
): Promise<Cluster> {
  const schema = newSchemaName()
  const prefix = newNatsPrefix()
  // Every node process, ready or still starting: one that comes up after a sibling failed to
  // start (and failed the test) is ended too, never left running.
  const processes: (() => Promise<void>)[] = []
  // Each node gets a data directory of its own under this one, as nodes on different machines
  // would: nothing of a cluster may travel through a local directory.
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-cluster-'))
  t.after(async () => {
    await Promise.all(processes.map((kill) => kill()))
    rmSync(dataDir, { recursive: true, force: true })
    await dropSchema(schema)
    await deleteStreamsOf(prefix, options.natsUrl ?? TEST_NATS_URL)
  })
  const env = {
    ...process.env,
    SWITCHBOARD_HOST: '127.0.0.1',
    SWITCHBOARD_PORT: '0',
    SWITCHBOARD_ADMIN_KEY: ROOT_KEY,
    SWITCHBOARD_DATABASE_URL: TEST_DATABASE_URL,
    SWITCHBOARD_NATS_URL: options.natsUrl ?? TEST_NATS_URL,
    SWITCHBOARD_NATS_PREFIX: prefix,
    SWITCHBOARD_TEST_PG_SCHEMA: schema,
    SWITCHBOARD_LOG_LEVEL: 'error',
    SWITCHBOARD_SCRIPT_HOSTS: '1',
    SWITCHBOARD_QUEUE_ACK_WAIT_MS: '2000',
    ...options.env,
  }
  const add = (): Promise<ClusterNode> =>
    startNode({ ...env, SWITCHBOARD_DATA_DIR: mkdtempSync(join(dataDir, 'node-')) }, (kill) => processes.push(kill))
  // The first node creates the schema and the built-in domains; the others join it.
  const nodes = [await add()]
  nodes.push(...(await Promise.all(Array.from({ length: count - 1 }, add))))
  return { nodes, add }
}

/** Starts a node; `spawned` gets a way to end its process at once, before it is ready. */
async function startNode(env: NodeJS.ProcessEnv, spawned: (kill: () => Promise<void>) => void): Promise<ClusterNode> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--no-node-snapshot', '--disable-warning=ExperimentalWarning', NODE_SCRIPT],
    {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const exited = once(child, 'exit')
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill(signal)
    await exited
  }
  spawned(() => end('SIGKILL'))
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = ''
    child.stdout?.on('data', (chunk) => {
      buffer += chunk
      const line = /^READY (\S+)$/m.exec(buffer)
      if (line?.[1]) resolve(line[1])
    })
    child.on('exit', (code) => reject(new Error(`a cluster node exited with ${code} before it was ready`)))
  })
  return {
    url,
    root: httpClient(url, ROOT_KEY),
    pid: child.pid as number,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  }
}
