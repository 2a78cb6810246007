import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadConfig } from '../src/config.ts'
import { createLogger } from '../src/logger.ts'
import { Supervisor } from '../src/workers/supervisor.ts'
import { childrenOf } from './support/node.ts'

describe('the supervisor', () => {
  it('fails the start, leaving no worker behind, when a worker other than the first dies before it is ready', {
    timeout: 60_000,
  }, async (t) => {
    // It waited on the dead worker's readiness before, and the node hung without ever listening.
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-supervisor-'))
    t.after(() => rmSync(dataDir, { recursive: true, force: true }))
    const env = { SWITCHBOARD_HOST: '127.0.0.1', SWITCHBOARD_PORT: '0', SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_WORKERS: '2' }
    const supervisor = new Supervisor({
      config: loadConfig(env),
      logger: createLogger('fatal'),
      entry: new URL('./support/worker-dying-at-start.ts', import.meta.url),
      env: { ...env, SWITCHBOARD_LOG_LEVEL: 'fatal' },
    })
    const started = performance.now()
    await assert.rejects(supervisor.start(), /worker 1 exited before it was ready/)
    assert.ok(performance.now() - started < 30_000)
    supervisor.kill()
    const deadline = performance.now() + 10_000
    while (childrenOf(process.pid, 'worker-dying-at-start').size > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.equal(childrenOf(process.pid, 'worker-dying-at-start').size, 0, 'worker 0 is ended too')
  })
})
