import { type ChildProcess, spawn } from 'node:child_process'
import type { TestContext } from 'node:test'

export const LAUNCHER = new URL('../../bin/switchboard', import.meta.url).pathname

export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `bin/switchboard <args>` against `url` with `key` (the environment a user would set) to its end. */
export async function cli(args: readonly string[], env: Record<string, string>, input?: string): Promise<CliRun> {
  await launcherBuilt()
  return run(args, env, input)
}

let built: Promise<void> | undefined
/**
 * The launcher rebuilds .build/ when the sources changed and says so on stderr: done once here,
 * before any run whose stderr a test compares (bin/test builds first; a single test file run
 * after an edit does not).
 */
function launcherBuilt(): Promise<void> {
  built ??= run(['--version'], {}).then(({ code, stderr }) => {
    if (code !== 0) throw new Error(`bin/switchboard --version exited with ${code}: ${stderr}`)
  })
  return built
}

function run(args: readonly string[], env: Record<string, string>, input?: string): Promise<CliRun> {
  const child = spawn(LAUNCHER, args, {
    env: { ...process.env, SWITCHBOARD_KEY: '', SWITCHBOARD_ADMIN_KEY: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  child.stdin.end(input ?? '')
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

/** A long-running command (`executions tail`) whose output lines are awaited as they come. */
export function cliStream(t: TestContext, args: readonly string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(LAUNCHER, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  const lines: string[] = []
  let partial = ''
  let stderr = ''
  const waiters: (() => void)[] = []
  child.stdout?.on('data', (chunk) => {
    partial += chunk
    const complete = partial.split('\n')
    partial = complete.pop() ?? ''
    lines.push(...complete)
    for (const wake of waiters.splice(0)) wake()
  })
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return {
    child,
    lines,
    exit,
    stderr: () => stderr,
    /** Resolves once `count` lines have been printed in all. */
    async untilLines(count: number, ms = 15_000): Promise<string[]> {
      const end = performance.now() + ms
      while (lines.length < count) {
        if (performance.now() > end) throw new Error(`${lines.length} lines of ${count} after ${ms} ms; stderr: ${stderr}`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 100)
        })
      }
      return lines.slice(0, count)
    },
  }
}
