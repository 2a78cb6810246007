import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { pathToFileURL } from 'node:url'
import { generateApi } from 'swagger-typescript-api'
import { CHANNELS, httpClient, json, ROOT_KEY, startServer } from './support/server.ts'

const ROOT = new URL('..', import.meta.url).pathname
const BIN = join(ROOT, 'node_modules/.bin')
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'options', 'head']

type Operation = {
  operationId?: string
  responses: Record<string, unknown>
  security?: unknown[]
  parameters?: { name: string }[]
}
type Document = { servers?: unknown[]; paths: Record<string, Record<string, Operation>> }

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-openapi-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function run(command: string, args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  )
}

async function served(t: TestContext) {
  const server = await startServer(t)
  const doc = json(await httpClient(server.url).get('/rest/v1/openapi.json')) as unknown as Document
  return { ...server, doc }
}

describe('the OpenAPI document', () => {
  it('passes redocly lint without errors, names every operation, and describes /exec and the websocket upgrade', async (t) => {
    const { url, root, doc } = await served(t)
    const file = join(tempDir(t), 'openapi.json')
    writeFileSync(file, JSON.stringify(doc))
    // No network: no telemetry, no update check.
    const lint = await run(join(BIN, 'redocly'), ['lint', file, '--config', join(ROOT, 'redocly.yaml'), '--format=json'], {
      REDOCLY_TELEMETRY: 'off',
      REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
    })
    const report = JSON.parse(lint.stdout) as {
      problems: { severity: string; ruleId: string; location: { pointer: string }[] }[]
    }
    const problems = report.problems.map((problem) => `${problem.severity} ${problem.ruleId} ${problem.location[0]?.pointer}`)
    assert.deepEqual(
      problems.filter((problem) => problem.startsWith('error')),
      [],
      lint.stderr,
    )
    // The warnings left, each for a reason: the health checks answer everyone (no 4xx), and a
    // websocket upgrade succeeds with 101, never a 2xx.
    assert.deepEqual(problems.sort(), [
      'warn operation-2xx-response #/paths/~1ws~1token~1v1/get/responses',
      'warn operation-2xx-response #/paths/~1ws~1token~1v1~1{token}/get/responses',
      'warn operation-4xx-response #/paths/~1healthz/get/responses',
      'warn operation-4xx-response #/paths/~1readyz/get/responses',
    ])
    assert.equal(lint.code, 0)

    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, operation]) => ({ path, method, operation })),
    )
    const ids = operations.map(({ operation }) => operation.operationId)
    assert.ok(
      ids.every((id) => typeof id === 'string'),
      'every operation has an operationId',
    )
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique')
    assert.ok((doc.servers ?? []).length > 0, 'a servers entry')

    // /exec: every method, the token in the header or in the path, with the error shapes.
    for (const path of ['/exec', '/exec/{token}', '/exec/{token}/{path}']) {
      assert.deepEqual(Object.keys(doc.paths[path] ?? {}), ['get', 'post', 'put', 'patch', 'delete', 'options'], path)
    }
    const execPost = doc.paths['/exec']?.post as Operation
    assert.deepEqual(execPost.security, [{ channelToken: [] }])
    assert.deepEqual(Object.keys(execPost.responses), ['200', '401', '403', '404', '413', '429', '500', '503', '504', 'default'])
    assert.deepEqual(doc.paths['/exec/{token}']?.post?.security, [], 'the token in the path needs no header')
    assert.deepEqual(
      doc.paths['/exec/{token}/{path}']?.post?.parameters?.map((parameter) => parameter.name),
      ['token', 'path'],
    )
    const upgrade = doc.paths['/ws/token/v1/{token}']?.get as Operation
    assert.deepEqual(Object.keys(upgrade.responses), ['101', '401', '403', '404', '426', '429', '503'])

    // What it says of the refusals is what the server answers.
    assert.deepEqual(json(await httpClient(url).post('/exec', {})), {
      error_code: 1401,
      error_message: 'a channel token is needed: Authorization: Bearer <token> or /exec/<token>',
    })
    const channel = json(await root.post(CHANNELS, { code: 'plain', type: 'public' }))
    const plain = await httpClient(url).get(`/ws/token/v1/${String(channel.token_local)}`)
    assert.equal(plain.status, 426)
    assert.equal(plain.headers.get('upgrade'), 'websocket')
    assert.deepEqual(plain.body, {
      error_code: 1426,
      error_message: 'this is a websocket endpoint: connect with a websocket client (Upgrade: websocket)',
    })
  })

  it('gives a generated TypeScript client that type-checks and drives a running server', async (t) => {
    const { url, root, doc } = await served(t)
    const dir = tempDir(t)
    await generateApi({
      spec: doc as never,
      output: dir,
      fileName: 'switchboard-client.ts',
      httpClientType: 'fetch',
      enumStyle: 'union',
      typeOnlyImports: true,
      silent: true,
    })
    // A program that uses the client as a project would: every call below is checked against the
    // generated types by tsc, then run against the server.
    writeFileSync(
      join(dir, 'usage.ts'),
      `import { Api } from './switchboard-client.ts'

export async function drive(baseUrl: string, rootKey: string) {
  const admin = new Api({ baseUrl, baseApiParams: { headers: { authorization: \`Bearer \${rootKey}\` } } })
  await admin.rest.createScript({ code: 'greet', source: 'return { hi: startparam(4), url: startparam(3) }' })
  const created = await admin.rest.createIntegrationPoint({
    code: 'generated',
    type: 'public',
    recv_svcscriptcode: 'greet',
    opts: { issync: true, allow_files_api: true, title: 'From a generated client' },
  })
  const token: string = created.data.token_local
  const listed = await admin.rest.listIntegrationPoints({ filter: JSON.stringify({ code: 'generated' }), mask: 'code,opts.title' })

  const sender = new Api({ baseUrl, baseApiParams: { headers: { authorization: \`Bearer \${token}\` } } })
  const byHeader = await sender.exec.postWebhook({ order: 7 })
  const anonymous = new Api({ baseUrl })
  const byPath = await anonymous.exec.postWebhookTokenInPathWithSubPath(token, 'orders/7', { order: 8 })
  const executionId = byHeader.headers.get('switchboard-execution-id') ?? ''
  // Records are written a few ms after the answer: wait for this one before replaying it.
  for (let tries = 0; tries < 100; tries++) {
    const found = await admin.rest.getExecution(executionId).then(
      () => true,
      () => false,
    )
    if (found) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const replayed = await admin.rest.replayExecution(executionId)

  // swagger-typescript-api's fetch client JSON-encodes a body whose media type it does not know
  // (application/octet-stream): the upload goes through fetch itself, the download through the client.
  const uploaded = (await (
    await fetch(\`\${baseUrl}/files/report.csv\`, {
      method: 'PUT',
      headers: { authorization: \`Bearer \${token}\`, 'content-type': 'text/csv' },
      body: 'id,total\\n1,9.99\\n',
    })
  ).json()) as unknown
  const downloaded = await sender.files.downloadFile('report.csv', { format: 'blob' })
  const refused = await anonymous.rest.listIntegrationPoints().catch((response: { status: number; error: unknown }) => response)
  return {
    channelId: created.data.id,
    listed: listed.data,
    total: listed.headers.get('x-total-count'),
    byHeader: byHeader.data as unknown,
    byPath: byPath.data as unknown,
    executionId,
    replayed: { trigger: replayed.data.trigger, replayOf: replayed.data.replay_of, status: replayed.data.status },
    uploaded,
    downloaded: await downloaded.data.text(),
    refused: { status: refused.status, error: refused.error },
  }
}
`,
    )
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2024',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['es2024', 'dom'],
          types: [],
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          skipLibCheck: true,
        },
        files: ['usage.ts'],
      }),
    )
    const typeCheck = await run(join(BIN, 'tsc'), ['-p', join(dir, 'tsconfig.json')])
    assert.equal(typeCheck.code, 0, typeCheck.stdout + typeCheck.stderr)

    const { drive } = (await import(pathToFileURL(join(dir, 'usage.ts')).href)) as {
      drive: (baseUrl: string, key: string) => Promise<Record<string, unknown>>
    }
    const result = await drive(url, ROOT_KEY)
    const stored = json(await root.get(`${CHANNELS}/${String(result.channelId)}`))
    assert.equal((stored.opts as Record<string, unknown>).title, 'From a generated client')
    assert.deepEqual(result.listed, [{ code: 'generated', opts: { title: 'From a generated client' } }])
    assert.equal(result.total, '1')
    assert.deepEqual(result.byHeader, { hi: { order: 7 }, url: '/exec' })
    assert.deepEqual(result.byPath, { hi: { order: 8 }, url: '/exec/~/orders/7' })
    assert.deepEqual(result.replayed, { trigger: 'replay', replayOf: result.executionId, status: 'ok' })
    assert.deepEqual(
      { ...(result.uploaded as Record<string, unknown>), mtime: 'set' },
      { path: 'report.csv', size: 16, content_type: 'text/csv', mtime: 'set' },
    )
    assert.equal(result.downloaded, 'id,total\n1,9.99\n')
    assert.deepEqual(result.refused, {
      status: 401,
      error: { error_code: 1401, error_message: 'an API key is required: send Authorization: Bearer <key>' },
    })
  })
})
