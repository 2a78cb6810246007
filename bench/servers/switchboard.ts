// Switchboard in embedded mode on a fresh data directory, with one channel to read.
// Prints READY {"url", "key", "channelId"} when it listens.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'

const key = 'bench-root-key-0123456789abcdef'
const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'))
const config = { ...loadConfig({ SWITCHBOARD_LOG_LEVEL: 'warn' }), host: '127.0.0.1', port: 0, dataDir, adminKey: key }
const app = await createApp(config)
const url = await app.listen()
const created = await fetch(`${url}/rest/v1/service/integration_points`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ code: 'bench', type: 'public' }),
})
const channel = (await created.json()) as { id: string }
process.stdout.write(`READY ${JSON.stringify({ url, key, channelId: channel.id })}\n`)
process.on('SIGTERM', () =>
  app.close().then(() => {
    rmSync(dataDir, { recursive: true, force: true })
    process.exit(0)
  }),
)
