import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { cli, cliStream } from './support/cli.ts'
import { CHANNELS, httpClient, json, jsonArray, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-scripts-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('switchboard client commands (against a running server)', () => {
  it('create, list, get and rotate channels, with exit codes for every failure', async (t) => {
    const { url, root } = await startServer(t)
    const env = { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: ROOT_KEY }
    assert.equal((await root.post(SCRIPTS, { code: 'hello', source: 'return { hi: startparam(4) }' })).status, 200)

    const created = await cli(['channels', 'create', 'first', '--sync', '--script', 'hello', '--title', 'First'], env)
    assert.equal(created.code, 0, created.stderr)
    const [, id, token] =
      new RegExp(`^created channel first \\((${UUID})\\)\\ntoken_local: ([0-9a-f]{32})\\n$`).exec(created.stdout) ?? []
    assert.ok(id && token, created.stdout)
    assert.equal((await cli(['channels', 'create', 'later'], env)).code, 0)

    const list = await cli(['channels', 'list'], env)
    assert.equal(list.code, 0)
    assert.equal(
      list.stdout,
      [
        'code   type    mode   webhook script  ws script  url',
        'first  public  sync   hello           -          -',
        'later  public  async  -               -          -',
        '',
      ].join('\n'),
    )
    const listed = JSON.parse((await cli(['channels', 'list', '--json'], env)).stdout) as Record<string, unknown>[]
    assert.deepEqual(
      listed.map((channel) => channel.code),
      ['first', 'later'],
    )
    const got = JSON.parse((await cli(['channels', 'get', 'first'], env)).stdout) as { opts: { title: string } }
    assert.deepEqual(got, json(await root.get(`${CHANNELS}/${id}`)))
    assert.equal(got.opts.title, 'First')

    const rotated = await cli(['channels', 'rotate-token', 'first'], env)
    const fresh = /^new token_local of first: ([0-9a-f]{32})\n$/.exec(rotated.stdout)?.[1]
    assert.ok(fresh && fresh !== token, rotated.stdout)
    assert.equal((await httpClient(url, token).post('/exec', {})).status, 404, 'the old token stops working at once')
    assert.deepEqual(json(await httpClient(url, fresh).post('/exec', { n: 1 })), { hi: { n: 1 } })

    const taken = await cli(['channels', 'create', 'first'], env)
    assert.deepEqual(taken, {
      code: 1,
      stdout: '',
      stderr: "switchboard: POST /rest/v1/service/integration_points: 1409 integration point with code 'first' already exists\n",
    })
    assert.deepEqual(await cli(['channels', 'get', 'nope'], env), {
      code: 1,
      stdout: '',
      stderr: "switchboard: no channel 'nope' in this domain\n",
    })
    assert.deepEqual(await cli(['channels', 'frob'], env), {
      code: 2,
      stdout: '',
      stderr: "switchboard: unknown channels command 'frob' (see 'switchboard channels --help')\n",
    })
    assert.deepEqual(await cli(['channels', 'get'], env), {
      code: 2,
      stdout: '',
      stderr: "switchboard: missing <code> (see 'switchboard channels get --help')\n",
    })
    const noKey = await cli(['channels', 'list'], { SWITCHBOARD_URL: url })
    assert.equal(noKey.code, 2)
    assert.match(noKey.stderr, /^switchboard: no API key: set SWITCHBOARD_KEY/)
    const wrongKey = await cli(['channels', 'list', '--key', 'sbk_not-a-key-0123456789abcdef'], env)
    assert.equal(wrongKey.code, 1)
    assert.match(wrongKey.stderr, /^switchboard: GET \/rest\/v1\/service\/integration_points\?.*: 1401 /)
    const port = await closedPort()
    const away = await cli(['channels', 'list', '--url', `http://127.0.0.1:${port}`], env)
    assert.deepEqual(away, { code: 1, stdout: '', stderr: `switchboard: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n` })
    const help = await cli(['channels', '--help'], {})
    assert.equal(help.code, 0)
    assert.match(help.stdout, /^Usage: switchboard channels <command> \[options\]\n/)
  })

  it('pull scripts into files, show a pushed edit as a diff with --dry-run, and push it', async (t) => {
    const { url, root } = await startServer(t)
    const env = { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: ROOT_KEY }
    const hello = json(
      await root.post(SCRIPTS, {
        code: 'hello',
        name: 'Greeter',
        source: 'const who = startparam(4)\nreturn { hi: who }\n',
        opts: { title: 'Says hi' },
      }),
    )
    await root.post(SCRIPTS, { code: 'typed', lang: 'ts', source: 'const n: number = 1\nreturn n' })
    const dir = tempDir(t)

    const pulled = await cli(['scripts', 'pull', dir], env)
    assert.equal(pulled.code, 0, pulled.stderr)
    assert.equal(pulled.stdout, `pulled hello.js\npulled typed.ts\n2 scripts written to ${dir}\n`)
    assert.deepEqual(readdirSync(dir).sort(), ['hello.js', 'hello.meta.json', 'typed.meta.json', 'typed.ts'])
    assert.equal(readFileSync(join(dir, 'hello.js'), 'utf8'), 'const who = startparam(4)\nreturn { hi: who }\n')
    assert.equal(readFileSync(join(dir, 'typed.ts'), 'utf8'), 'const n: number = 1\nreturn n')
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'hello.meta.json'), 'utf8')), {
      name: 'Greeter',
      title: 'Says hi',
      comment: '',
      loglevel: 'info',
    })
    assert.deepEqual(await cli(['scripts', 'push', dir], env), { code: 0, stdout: 'nothing to push: 2 unchanged\n', stderr: '' })

    writeFileSync(join(dir, 'hello.js'), 'const who = startparam(4)\nreturn { hello: who }\n')
    writeFileSync(join(dir, 'hello.meta.json'), '{"name": "Greeter", "title": "Says hello", "loglevel": "debug"}\n')
    writeFileSync(join(dir, 'added.js'), 'return 42\n')
    const dryRun = await cli(['scripts', 'push', dir, '--dry-run'], env)
    assert.equal(dryRun.code, 0, dryRun.stderr)
    assert.equal(
      dryRun.stdout,
      [
        'would create added',
        '--- /dev/null',
        '+++ local/added.js',
        '@@ -0,0 +1 @@',
        '+return 42',
        'would update hello',
        '--- server/hello.js',
        '+++ local/hello.js',
        '@@ -1,2 +1,2 @@',
        ' const who = startparam(4)',
        '-return { hi: who }',
        '+return { hello: who }',
        '--- server/hello.meta.json',
        '+++ local/hello.meta.json',
        '@@ -1,6 +1,6 @@',
        ' {',
        '   "name": "Greeter",',
        '-  "title": "Says hi",',
        '+  "title": "Says hello",',
        '   "comment": "",',
        '-  "loglevel": "info"',
        '+  "loglevel": "debug"',
        ' }',
        'dry run: 1 to create, 1 to update, 0 to delete, 1 unchanged; nothing was changed',
        '',
      ].join('\n'),
    )
    assert.equal(json(await root.get(`${SCRIPTS}/${String(hello.id)}`)).source, 'const who = startparam(4)\nreturn { hi: who }\n')
    assert.equal((await root.get(SCRIPTS)).headers.get('x-total-count'), '2', 'a dry run changes nothing')
    const asJson = JSON.parse((await cli(['scripts', 'push', dir, '--dry-run', '--json'], env)).stdout)
    assert.deepEqual(
      { ...asJson, diffs: Object.keys(asJson.diffs) },
      {
        dry_run: true,
        created: ['added'],
        updated: ['hello'],
        deleted: [],
        unchanged: ['typed'],
        failed: [],
        diffs: ['added', 'hello'],
      },
    )

    const pushed = await cli(['scripts', 'push', dir], env)
    assert.deepEqual(pushed, {
      code: 0,
      stdout: 'created added\nupdated hello\npushed: 1 created, 1 updated, 0 deleted, 1 unchanged\n',
      stderr: '',
    })
    const stored = json(await root.get(`${SCRIPTS}/${String(hello.id)}`))
    assert.equal(stored.source, 'const who = startparam(4)\nreturn { hello: who }\n')
    assert.deepEqual(stored.opts, { title: 'Says hello', comment: '', loglevel: 'debug' })
    const added = jsonArray(await root.get(`${SCRIPTS}?filter=${encodeURIComponent('{"code":"added"}')}`))[0]
    assert.deepEqual([added?.lang, added?.source, added?.name], ['js', 'return 42\n', ''])
    assert.deepEqual(await cli(['scripts', 'push', dir], env), { code: 0, stdout: 'nothing to push: 3 unchanged\n', stderr: '' })

    // A script removed from the directory goes with --delete only; one that does not compile is refused.
    rmSync(join(dir, 'typed.ts'))
    rmSync(join(dir, 'typed.meta.json'))
    writeFileSync(join(dir, 'broken.js'), 'return (')
    const failing = await cli(['scripts', 'push', dir, '--delete', '--json'], env)
    assert.equal(failing.code, 1)
    const report = JSON.parse(failing.stdout)
    assert.deepEqual(report.deleted, ['typed'])
    assert.deepEqual(report.created, [])
    assert.equal(report.failed[0].code, 'broken')
    assert.match(report.failed[0].error, /^1400 source does not compile: line \d+, column \d+: /)
    assert.deepEqual(
      jsonArray(await root.get(`${SCRIPTS}?order=code`)).map((script) => script.code),
      ['added', 'hello'],
    )
    const badMeta = tempDir(t)
    writeFileSync(join(badMeta, 'x.js'), 'return 1')
    writeFileSync(join(badMeta, 'x.meta.json'), '{"nmae": "typo"}')
    assert.deepEqual(await cli(['scripts', 'push', badMeta], env), {
      code: 1,
      stdout: '',
      stderr: `switchboard: ${join(badMeta, 'x.meta.json')}: unknown field 'nmae' (known: name, title, comment, loglevel)\n`,
    })
  })

  it('send a test webhook with exec, and follow executions with tail', async (t) => {
    const { url, root } = await startServer(t)
    const env = { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: ROOT_KEY }
    await root.post(SCRIPTS, { code: 'echo', source: 'return { got: startparam(4), url: startparam(3), method: startparam(2) }' })
    await root.post(SCRIPTS, { code: 'fails', source: "throw new Error('no')" })
    const hook = json(
      await root.post(CHANNELS, { code: 'hook', type: 'public', recv_svcscriptcode: 'echo', opts: { issync: true } }),
    )
    await root.post(CHANNELS, { code: 'queued', type: 'public', recv_svcscriptcode: 'echo', opts: { issync: false } })
    const bad = json(
      await root.post(CHANNELS, { code: 'bad', type: 'public', recv_svcscriptcode: 'fails', opts: { issync: true } }),
    )

    const sent = await cli(['exec', 'hook', '-d', '{"n":1}', '--path', '/orders?x=1'], env)
    assert.equal(sent.code, 0, sent.stderr)
    assert.equal(sent.stdout, '{"got":{"n":1},"url":"/exec/orders?x=1","method":"POST"}\n')
    const [, requestId, executionId] =
      new RegExp(`^200 \\(request ([A-Za-z0-9_-]{11}\\.[0-9a-z]+), execution (${UUID})\\)\n$`).exec(sent.stderr) ?? []
    assert.ok(requestId && executionId, sent.stderr)
    const fromStdin = await cli(['exec', 'hook', '-X', 'PUT', '-d', '-', '-t', 'text/plain', '--json'], env, 'plain words')
    const answer = JSON.parse(fromStdin.stdout)
    assert.deepEqual([answer.status, answer.body], [200, { got: 'plain words', url: '/exec', method: 'PUT' }])
    assert.equal(answer.request_id, answer.headers['x-request-id'])
    const accepted = JSON.parse((await cli(['exec', 'queued', '--json'], env)).stdout)
    assert.match(accepted.body.execution_id, new RegExp(`^${UUID}$`))
    const failed = await cli(['exec', 'bad'], env)
    assert.equal(failed.code, 1)
    assert.match(failed.stdout, /^\{"error_code":1500,"error_message":"script failed \(execution [0-9a-f-]{36}\)"\}\n$/)
    assert.match(failed.stderr, /^500 \(request /)

    // The records are written in batches: wait for the four.
    while ((await root.get(`${EXECUTIONS}?limit=0`)).headers.get('x-total-count') !== '4' || (await queuedDone(root)) === false) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const last = await cli(['executions', 'tail', '--no-follow', '-n', '2'], env)
    assert.equal(last.code, 0, last.stderr)
    const shown = last.stdout.trimEnd().split('\n')
    assert.equal(shown.length, 2)
    assert.match(shown[1] ?? '', new RegExp(`^\\S+Z  error    http       bad  fails  +[\\d.]+ ms  ${UUID}  no$`))

    const tail = cliStream(t, ['executions', 'tail', '-n', '1', '--interval', '100', '--json', '--channel', 'bad'], env)
    const [first] = await tail.untilLines(1)
    assert.equal(JSON.parse(first ?? '{}').channel_id, bad.id)
    const badToken = String(bad.token_local)
    const later = [] as string[]
    for (let i = 0; i < 2; i++) {
      const reply = await httpClient(url).post(`/exec/${badToken}`, { i })
      later.push(reply.headers.get('x-request-id') ?? '')
    }
    assert.equal((await httpClient(url).post(`/exec/${String(hook.token_local)}`, {})).status, 200)
    const followed = (await tail.untilLines(3)).slice(1).map((line) => JSON.parse(line))
    assert.deepEqual(
      followed.map((execution) => [execution.request_id, execution.status, execution.script_code, execution.channel_id]),
      later.map((id) => [id, 'error', 'fails', bad.id]),
    )
    tail.child.kill('SIGINT')
    assert.equal(await tail.exit, 0)
    assert.equal(tail.lines.length, 3, 'the other channel’s execution is not shown')
  })

  it('deliveries list and retry: the dead letters, retried one by one or all at once', async (t) => {
    const port = await closedPort()
    const { url, root } = await startServer(t, { config: { egressAllow: ['127.0.0.1/32'] } })
    const env = { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: ROOT_KEY }
    const out = json(
      await root.post(CHANNELS, {
        code: 'out',
        type: 'public',
        url: `http://127.0.0.1:${port}/hooks`,
        opts: { deliver: { retry_s: [] } },
      }),
    )
    const ids: string[] = []
    for (const n of [1, 2]) {
      const reply = await root.post(`${CHANNELS}/${String(out.id)}/deliver`, { payload: { n }, event_type: 'ping' })
      ids.push(String((json(reply) as { delivery_id: string }).delivery_id))
    }
    const failed = async () => {
      for (let i = 0; i < 100; i++) {
        const list = jsonArray(await root.get(`/rest/v1/service/deliveries?filter=${encodeURIComponent('{"status":"failed"}')}`))
        if (list.length === 2) return
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      assert.fail('the deliveries did not fail')
    }
    await failed()
    const list = await cli(['deliveries', 'list', '--status', 'failed', '--channel', 'out'], env)
    assert.equal(list.code, 0, list.stderr)
    const lines = list.stdout.trim().split('\n')
    assert.match(lines[0] ?? '', /^created +status +channel +event +attempts +last answer +id$/)
    assert.equal(lines.length, 3)
    for (const line of lines.slice(1))
      assert.match(line, new RegExp(`^\\S+ +failed +out +ping +1 +connect ECONNREFUSED 127\\.0\\.0\\.1:${port} +${UUID}$`))
    const listed = JSON.parse((await cli(['deliveries', 'list', '--json'], env)).stdout) as { id: string }[]
    assert.deepEqual(listed.map((delivery) => delivery.id).sort(), [...ids].sort())

    const one = await cli(['deliveries', 'retry', ids[0] as string], env)
    assert.equal(one.code, 0, one.stderr)
    assert.equal(one.stdout, `delivery ${ids[0]} is due now (pending)\n`)
    await failed()
    const all = await cli(['deliveries', 'retry', '--status', 'failed', '--channel', 'out'], env)
    assert.equal(all.code, 0, all.stderr)
    assert.equal(all.stdout, '2 deliveries due now\n')

    const usage = await cli(['deliveries', 'retry'], env)
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /give a delivery id, or --status failed/)
    assert.equal((await cli(['deliveries', 'retry', 'not-an-id'], env)).code, 2)
    assert.equal((await cli(['deliveries', 'list', '--status', 'lost'], env)).code, 2)
    const unknown = await cli(['deliveries', 'retry', '00000000-0000-4000-8000-000000000000'], env)
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /does not exist/)
  })
})

async function queuedDone(root: ReturnType<typeof httpClient>): Promise<boolean> {
  const records = jsonArray(await root.get(`${EXECUTIONS}?filter=${encodeURIComponent('{"status":"queued"}')}`))
  return records.length === 0
}
