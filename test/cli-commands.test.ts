import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { cli } from './support/cli.ts'
import { API_KEYS, CHANNELS, httpClient, json, jsonArray, ROOT_KEY, SCRIPTS, startServer, USERS } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

/** The everyday commands beyond the first tour: update and delete, executions, users and keys, output for scripts. */
describe('switchboard client commands: the everyday operations', () => {
  it('update, delete and rotate channels; --field and --output json for scripts; bad values refused with exit 2', async (t) => {
    const { url, root } = await startServer(t)
    const env = { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: ROOT_KEY }

    const tooLong = await cli(['channels', 'create', 'orders', '--timeout', '99'], env)
    assert.deepEqual(tooLong, {
      code: 2,
      stdout: '',
      stderr:
        "switchboard: --timeout 99: must be a whole number of seconds from 0 to 60 (see 'switchboard channels create --help')\n",
    })
    assert.equal((await root.get(CHANNELS)).headers.get('x-total-count'), '0', 'nothing was sent')

    const created = await cli(
      [
        'channels',
        'create',
        'orders',
        '--timeout',
        '30',
        '--set',
        'opts.allow_files_api=true',
        '--set',
        'ipmask=["127.0.0.1"]',
        '-o',
        'json',
      ],
      env,
    )
    assert.equal(created.code, 0, created.stderr)
    const entity = JSON.parse(created.stdout) as { id: string; token_local: string }
    const stored = json(await root.get(`${CHANNELS}/${entity.id}`))
    assert.deepEqual(entity, stored)
    assert.deepEqual([stored.ipmask, (stored.opts as Record<string, unknown>).recv_timeout], [['127.0.0.1'], 30])
    assert.equal((stored.opts as Record<string, unknown>).allow_files_api, true)
    assert.deepEqual(await cli(['channels', 'get', 'orders', '--field', 'token_local'], env), {
      code: 0,
      stdout: `${entity.token_local}\n`,
      stderr: '',
    })
    assert.equal((await cli(['channels', 'get', 'orders', '--field', 'opts.recv_timeout'], env)).stdout, '30\n')
    assert.deepEqual(await cli(['channels', 'get', 'orders', '--field', 'opts.nope'], env), {
      code: 1,
      stdout: '',
      stderr: 'switchboard: --field opts.nope: the answer has no such field\n',
    })

    const updated = await cli(['channels', 'update', 'orders', '--title', 'Shop orders', '--sync', '--set', 'ipmask=[]'], env)
    assert.deepEqual(updated, { code: 0, stdout: 'updated channel orders: ipmask, opts\n', stderr: '' })
    const after = json(await root.get(`${CHANNELS}/${entity.id}`))
    assert.deepEqual(after.ipmask, [])
    assert.deepEqual(after.opts, { ...(stored.opts as object), title: 'Shop orders', issync: true })
    assert.deepEqual(await cli(['channels', 'update', 'orders'], env), {
      code: 2,
      stdout: '',
      stderr: "switchboard: nothing to change: give a flag such as --title or --set (see 'switchboard channels update --help')\n",
    })
    assert.equal((await cli(['channels', 'update', 'orders', '--sync', '--async'], env)).code, 2)
    const renamed = JSON.parse((await cli(['channels', 'update', 'orders', '--code', 'shop', '--output', 'json'], env)).stdout)
    assert.equal(renamed.code, 'shop')

    // rotate-token is the older name of rotate.
    const fresh = (await cli(['channels', 'rotate-token', 'shop', '--field', 'token_local'], env)).stdout.trim()
    assert.match(fresh, /^[0-9a-f]{32}$/)
    assert.notEqual(fresh, entity.token_local)
    assert.equal(json(await root.get(`${CHANNELS}/${entity.id}`)).token_local, fresh)

    assert.deepEqual(await cli(['channels', 'delete', 'shop'], env), {
      code: 0,
      stdout: `deleted channel shop (${entity.id})\n`,
      stderr: '',
    })
    assert.equal((await root.get(`${CHANNELS}/${entity.id}`)).status, 404)
    assert.deepEqual(await cli(['channels', 'delete', 'shop'], env), {
      code: 1,
      stdout: '',
      stderr: "switchboard: no channel 'shop' in this domain\n",
    })

    assert.deepEqual(await cli(['channels', 'list', '-o', 'yaml'], env), {
      code: 2,
      stdout: '',
      stderr: "switchboard: --output yaml: use one of text, json (see 'switchboard channels list --help')\n",
    })
    assert.deepEqual(await cli(['channels', 'list', '--json'], env), { code: 0, stdout: '[]\n', stderr: '' })
    assert.deepEqual(await cli(['channels', 'list', '--url', '127.0.0.1:8080'], env), {
      code: 2,
      stdout: '',
      stderr: 'switchboard: --url 127.0.0.1:8080 is not a URL: did you mean http://127.0.0.1:8080?\n',
    })
  })

  it('list and get scripts; list, get and replay executions with their channel; refuse unknown statuses', async (t) => {
    const { url, root } = await startServer(t)
    const env = { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: ROOT_KEY }
    await root.post(SCRIPTS, {
      code: 'echo',
      name: 'Echo',
      source: "log.info('got', startparam(4))\nreturn { got: startparam(4) }\n",
      opts: { title: 'Says it back' },
    })
    await root.post(SCRIPTS, { code: 'typed', lang: 'ts', source: 'return 1 as number' })
    await root.post(CHANNELS, { code: 'hook', type: 'public', recv_svcscriptcode: 'echo', opts: { issync: true } })

    const scripts = await cli(['scripts', 'list'], env)
    assert.equal(scripts.code, 0, scripts.stderr)
    assert.equal(
      scripts.stdout.replace(/\S+Z$/gm, '<time>'),
      'code   lang  name  title         changed\necho   js    Echo  Says it back  <time>\ntyped  ts    -     -             <time>\n',
    )
    assert.deepEqual(await cli(['scripts', 'get', 'typed'], env), { code: 0, stdout: 'return 1 as number\n', stderr: '' })
    assert.equal(JSON.parse((await cli(['scripts', 'get', 'echo', '-o', 'json'], env)).stdout).name, 'Echo')

    const sent = await cli(['exec', 'hook', '-d', '{"n":1}', '--field', 'execution_id'], env)
    assert.equal(sent.code, 0, sent.stderr)
    const id = sent.stdout.trim()
    assert.match(id, new RegExp(`^${UUID}$`))
    assert.equal((await cli(['executions', 'list', '-n', '1', '--channel', 'hook', '--field', 'id'], env)).stdout, `${id}\n`)
    const listed = await cli(['executions', 'list'], env)
    assert.match(listed.stdout, new RegExp(`^\\S+Z  ok       http       hook  echo +[\\d.]+ ms  ${id}\\n$`))

    const shown = await cli(['executions', 'get', id], env)
    assert.equal(shown.code, 0, shown.stderr)
    const record = json(await root.get(`${EXECUTIONS}/${id}`))
    const [{ ms: logMs }] = record.logs as [{ ms: number }]
    assert.deepEqual(shown.stdout.split('\n'), [
      `execution ${id}`,
      `status    ok (${(record.duration_ms as number).toFixed(1)} ms)`,
      'trigger   http',
      'channel   hook',
      'script    echo',
      `started   ${String(record.started_at)}`,
      `request   ${String(record.request_id)}`,
      `input     ${JSON.stringify(record.input)}`,
      'output    {"result":{"got":{"n":1}}}',
      'log',
      `  ${`+${logMs.toFixed(1)} ms`.padStart(11)}  info   got {"n":1}`,
      '',
    ])

    const replayed = await cli(['executions', 'replay', id, '-o', 'json'], env)
    assert.equal(replayed.code, 0, replayed.stderr)
    const again = JSON.parse(replayed.stdout)
    assert.deepEqual(
      [again.trigger, again.status, again.replay_of, again.output],
      ['replay', 'ok', id, { result: { got: { n: 1 } } }],
    )
    assert.deepEqual(json(await root.get(`${EXECUTIONS}/${String(again.id)}`)), again)

    assert.deepEqual(await cli(['executions', 'tail', '--status', 'nonsense'], env), {
      code: 2,
      stdout: '',
      stderr:
        "switchboard: --status nonsense: use one of queued, running, retrying, ok, error, timeout, aborted (see 'switchboard executions tail --help')\n",
    })
    assert.deepEqual(await cli(['executions', 'get', '42'], env), {
      code: 2,
      stdout: '',
      stderr: "switchboard: 42: not an execution id (a UUID, as list and tail show) (see 'switchboard executions get --help')\n",
    })
    const missing = randomUUID()
    const unknown = await cli(['executions', 'replay', missing], env)
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, new RegExp(`^switchboard: GET ${EXECUTIONS}/${missing}: 1404 `))
  })

  it('manage users and their API keys: a new key works at once, a deleted one stops', async (t) => {
    const { url, root } = await startServer(t)
    const env = { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: ROOT_KEY }

    const created = await cli(
      ['users', 'create', 'alice', '--name', 'Alice', '--role', 'admin', '--email', 'alice@example.org'],
      env,
    )
    assert.equal(created.code, 0, created.stderr)
    const [user] = jsonArray(await root.get(USERS))
    assert.equal(created.stdout, `created user alice (${String(user?.id)})\n`)
    assert.deepEqual([user?.name, user?.roles, user?.opts], ['Alice', ['admin'], { comment: '', email: 'alice@example.org' }])
    assert.equal(
      (await cli(['users', 'list'], env)).stdout,
      'login  name   roles  email\nalice  Alice  admin  alice@example.org\n',
    )

    const secret = (await cli(['keys', 'create', 'alice', '--name', 'ci', '--field', 'key'], env)).stdout.trim()
    assert.match(secret, /^sbk_/)
    const asAlice = await cli(['channels', 'list', '-o', 'json'], { SWITCHBOARD_URL: url, SWITCHBOARD_KEY: secret })
    assert.deepEqual([asAlice.code, asAlice.stdout], [0, '[]\n'])
    const [key] = jsonArray(await root.get(API_KEYS))
    const keyList = await cli(['keys', 'list', '--user', 'alice'], env)
    assert.match(keyList.stdout, new RegExp(`^id +user +name +created\\n${String(key?.id)}  alice  ci    \\S+Z\\n$`))
    assert.doesNotMatch(keyList.stdout, new RegExp(secret), 'the secret is never listed')

    assert.deepEqual(await cli(['users', 'update', 'alice', '--name', 'Alice B.', '--login', 'alice.b'], env), {
      code: 0,
      stdout: 'updated user alice.b: name, login\n',
      stderr: '',
    })
    assert.deepEqual([json(await root.get(`${USERS}/${String(user?.id)}`)).name], ['Alice B.'])
    const refused = await cli(['users', 'delete', 'alice.b'], env)
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /1409 user 'alice\.b' still has 1 API key\(s\); delete them first\n$/)

    assert.deepEqual(await cli(['keys', 'delete', String(key?.id)], env), {
      code: 0,
      stdout: `deleted key ${String(key?.id)}\n`,
      stderr: '',
    })
    assert.equal((await httpClient(url, secret).get(CHANNELS)).status, 401, 'the deleted key stops working')
    assert.equal((await cli(['users', 'delete', 'alice.b'], env)).code, 0)
    assert.deepEqual(jsonArray(await root.get(USERS)), [])
  })
})
