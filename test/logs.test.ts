import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import WebSocket from 'ws'
import { createLogger } from '../src/logger.ts'
import { rawRequest } from './support/raw-http.ts'
import { saveScript } from './support/scripts.ts'
import { API_KEYS, CHANNELS, httpClient, json, jsonArray, ROOT_KEY, startServer, USERS } from './support/server.ts'
import { startStub } from './support/stub-server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

/** A server logging at debug into memory. */
async function loggedServer(t: Parameters<typeof startServer>[0]) {
  const lines: string[] = []
  const logger = createLogger('debug', { write: (line: string) => void lines.push(line) })
  const server = await startServer(t, { logger, config: { egressAllow: ['127.0.0.0/8'] } })
  const parsed = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return { ...server, lines, parsed }
}

describe('logs', () => {
  it('carry a request’s id into its execution, its record and its outbound calls', async (t) => {
    const { url, root, parsed } = await loggedServer(t)
    const stub = await startStub(t, (_request, response) => {
      response.end('{"ok":true}')
    })
    await saveScript(
      root,
      'calls',
      `const answer = await http.request({ url: '${stub.url}/hook?code=s3cr3t' })
      return { status: answer.status }`,
    )
    const channel = json(
      await root.post(CHANNELS, { code: 'calls', type: 'public', recv_svcscriptcode: 'calls', opts: { issync: true } }),
    )
    const hook = await httpClient(url).request(
      'POST',
      `/exec/${String(channel.token_local)}`,
      {},
      { 'x-request-id': 'trace-abc-123' },
    )
    assert.deepEqual(hook.body, { status: 200 })
    assert.equal(hook.headers.get('x-request-id'), 'trace-abc-123')
    assert.equal(stub.requests[0]?.headers['x-request-id'], 'trace-abc-123', 'the outbound call carries the request id')

    // The record is written in a batch, just after the answer.
    const byRequest = `${EXECUTIONS}?filter=${encodeURIComponent('{"request_id":"trace-abc-123"}')}`
    let records = jsonArray(await root.get(byRequest))
    while (records.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      records = jsonArray(await root.get(byRequest))
    }
    const [record] = records as [Record<string, unknown>]
    assert.equal(record.script_code, 'calls')
    const lines = parsed().filter((line) => line.reqId === 'trace-abc-123')
    assert.deepEqual(
      lines.map((line) => line.msg),
      ['outbound request', 'execution finished', 'request completed'],
    )
    const [outbound, execution, request] = lines as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]
    assert.deepEqual(
      { ...outbound, time: undefined, ms: undefined, pid: undefined },
      {
        level: 20,
        time: undefined,
        pid: undefined,
        reqId: 'trace-abc-123',
        execution_id: record.id,
        method: 'GET',
        url: `${stub.url}/hook?…`,
        status: 200,
        ms: undefined,
        msg: 'outbound request',
      },
    )
    assert.equal(execution.execution_id, record.id)
    assert.equal(execution.status, 'ok')
    assert.equal(execution.trigger, 'http')
    assert.deepEqual(request.req, { method: 'POST', url: '/exec/~', ip: '127.0.0.1' })
    assert.deepEqual(request.res, { status: 200 })

    // A request id that is not a plain token is replaced by a new one.
    const odd = await httpClient(url).request('POST', `/exec/${String(channel.token_local)}`, {}, { 'x-request-id': 'two words' })
    const made = odd.headers.get('x-request-id') ?? ''
    assert.match(made, /^[A-Za-z0-9_-]{11}\.[0-9a-z]+$/)
    const next = (await httpClient(url).post(`/exec/${String(channel.token_local)}`, {})).headers.get('x-request-id') ?? ''
    assert.equal(next.split('.')[0], made.split('.')[0], 'ids made by one process share its prefix')
    assert.ok(Number.parseInt(next.split('.')[1] ?? '', 36) > Number.parseInt(made.split('.')[1] ?? '', 36), 'and count up')
  })

  it('never contain a key, a token, a token_remote or an Authorization header', async (t) => {
    const { url, root, lines, parsed } = await loggedServer(t)
    const remote = 'remote-secret-0123456789'
    await saveScript(root, 'fails', "throw new Error('boom')")
    const channel = json(
      await root.post(CHANNELS, {
        code: 'secret',
        type: 'public',
        token_remote: remote,
        token_remote2: `${remote}-2`,
        recv_svcscriptcode: 'fails',
        recv_svcscriptcode_ws: 'fails',
        opts: { issync: true },
      }),
    )
    const token = String(channel.token_local)
    const user = json(await root.post(USERS, { login: 'ann', name: 'Ann', roles: ['admin'] }))
    const apiKey = String(json(await root.post(API_KEYS, { userid: user.id, name: 'laptop' })).key)
    assert.equal((await httpClient(url, apiKey).get(CHANNELS)).status, 200)
    assert.equal((await httpClient(url, 'sbk_wrong-key-0123456789abcdef0123456789ab').get(CHANNELS)).status, 401)
    assert.equal((await root.get(`/rest/v1/service/integration_tokens/${token}`)).status, 200)
    assert.equal((await httpClient(url).post(`/exec/${token}/orders`, {})).status, 500)
    assert.equal((await httpClient(url, token).post('/exec/orders', {})).status, 500)
    assert.equal((await httpClient(url).post(`/exec/${token}x`, {})).status, 404)
    const socket = new WebSocket(`${url.replace('http', 'ws')}/ws/token/v1/${token}`)
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
    const answered = new Promise((resolve) => socket.once('message', resolve))
    socket.send(JSON.stringify(['message', { qid: 1, data: { token_local: token } }]))
    await answered
    socket.close()
    assert.equal((await root.patch(`${CHANNELS}/${String(channel.id)}`, { token_local: null })).status, 200)

    const text = lines.join('')
    for (const secret of [ROOT_KEY, apiKey, token, remote, 'sbk_wrong-key', 'Bearer']) {
      assert.equal(text.includes(secret), false, `a log line holds ${secret}`)
    }
    // The lines are there, with the secrets taken out (a first segment after /exec/ always goes:
    // it is the token unless a Bearer header came, and a log line does not tell which).
    const urls = parsed().map((line) => (line.req as { url?: string } | undefined)?.url)
    for (const shown of ['/exec/~/orders', '/rest/v1/service/integration_tokens/~', '/exec/~']) {
      assert.ok(urls.includes(shown), `no request line for ${shown}: ${JSON.stringify(urls)}`)
    }
    assert.ok(parsed().some((line) => line.msg === 'execution failed' && line.trigger === 'ws'))
  })

  it('never contain a token from a refused URL, however it is spelt', async (t) => {
    const { url, root, lines, parsed } = await loggedServer(t)
    const channel = json(await root.post(CHANNELS, { code: 'c', type: 'public' }))
    const token = String(channel.token_local)
    const refused: [string, number][] = [
      [`/exec//${token}`, 401],
      [`/EXEC/${token}`, 404],
      [`/Exec/${token}/orders`, 404],
      [`/exec%2f${token}`, 404],
      [`/ws/token/v1//${token}`, 404],
      [`/temp/${token}`, 404],
      [`/files/${token}`, 401],
      [`/rest/v1/service/integration_points/${token}`, 401],
      [`/nowhere/${token}?x=1`, 404],
    ]
    for (const [path, status] of refused) {
      const answer = await rawRequest(url, 'GET', path)
      assert.equal(answer.status, status, `${path}: ${answer.text}`)
      assert.equal(answer.text.includes(token), false, `the answer to ${path} holds the token`)
    }
    assert.equal(lines.join('').includes(token), false, 'a log line holds the token')
    const urls = parsed()
      .map((line) => (line.req as { url?: string } | undefined)?.url)
      .filter((shown) => shown !== undefined)
    for (const shown of [
      '/exec//~',
      '/EXEC/~',
      '/Exec/~/orders',
      '/~',
      '/ws/token/v1//~',
      '/temp/~',
      '/files/~',
      '/nowhere/~?x=1',
    ]) {
      assert.ok(urls.includes(shown), `no request line for ${shown}: ${JSON.stringify(urls)}`)
    }
  })
})
