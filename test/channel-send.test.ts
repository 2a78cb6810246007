import assert from 'node:assert/strict'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { CHANNELS, type Client, json, jsonArray, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

/** A small HTTP server on loopback playing the external system (a CRM). */
async function crm(t: { after(fn: () => Promise<void>): void }): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk) => {
      body += chunk
    })
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body })
      response.writeHead(201, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ crm_id: `c-${seen.length}` }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, seen }
}

async function script(root: Client, code: string, source: string): Promise<void> {
  const reply = await root.post(SCRIPTS, { code, source })
  assert.equal(reply.status, 200, reply.text)
}

async function webhookChannel(root: Client, code: string, source: string): Promise<string> {
  await script(root, `${code}-recv`, source)
  const reply = await root.post(CHANNELS, { code, type: 'public', recv_svcscriptcode: `${code}-recv`, opts: { issync: true } })
  assert.equal(reply.status, 200, reply.text)
  return json(reply).token_local as string
}

async function hook(url: string, token: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/exec`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

/** The execution records matching `filter`, once `count` of them are stored (they are written in batches). */
async function recorded(root: Client, filter: Record<string, unknown>, count: number): Promise<Record<string, unknown>[]> {
  for (let i = 0; ; i++) {
    const found = jsonArray(await root.get(`${EXECUTIONS}?filter=${encodeURIComponent(JSON.stringify(filter))}&limit=1000`))
    if (found.length >= count || i === 100) return found
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const SEND_ORDER = `const answer = await http.request({
  method: 'POST',
  url: 'orders?source=switchboard&key=' + channel.token_remote2,
  headers: { authorization: 'Bearer ' + channel.token_remote },
  body: startparam(2),
})
vars.status = answer.status
vars.crm = answer.json()
vars.channel = startparam(1).code`

describe('sending through channels (SPEC §7)', () => {
  it("runs a channel's send script against its url and credentials, and records the call", async (t) => {
    const external = await crm(t)
    const { root, url } = await startServer(t, { env: { SWITCHBOARD_EGRESS_ALLOW: '127.0.0.1/32' } })
    await script(root, 'crm-send', SEND_ORDER)
    const created = await root.post(CHANNELS, {
      code: 'crm',
      type: 'public',
      url: external.base,
      token_remote: 'crm-secret',
      token_remote2: 'second-secret',
      send_svcscriptcode: 'crm-send',
    })
    assert.equal(created.status, 200, created.text)
    const shop = await webhookChannel(
      root,
      'shop',
      `const sent = await channels.send('crm', { order: startparam(4).order, total: 7 })
return { forwarded: sent.crm.crm_id, status: sent.status, via: sent.channel }`,
    )

    const answer = await hook(url, shop, { order: 'A-17' })
    assert.deepEqual(answer, { status: 200, body: { forwarded: 'c-1', status: 201, via: 'crm' } })
    assert.equal(external.seen.length, 1)
    const [request] = external.seen as [Seen]
    assert.equal(request.method, 'POST')
    assert.equal(request.url, '/api/orders?source=switchboard&key=second-secret')
    assert.equal(request.headers.authorization, 'Bearer crm-secret')
    assert.equal(request.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(request.body), { order: 'A-17', total: 7 })

    const [send] = (await recorded(root, { trigger: 'send' }, 1)) as [Record<string, unknown>]
    assert.equal(send.channel_id, json(created).id)
    assert.equal(send.script_code, 'crm-send')
    assert.equal(send.status, 'ok')
    const sendLogs = (send.logs as { text: string }[]).map((line) => line.text)
    assert.equal(sendLogs.length, 1)
    assert.match(sendLogs[0] as string, new RegExp(`^http POST ${external.base}orders\\?… → 201 \\(\\d+ ms\\)$`))
    assert.equal(JSON.stringify(sendLogs).includes('second-secret'), false, 'the query string is not logged')
    const [caller] = (await recorded(root, { trigger: 'http' }, 1)) as [Record<string, unknown>]
    const callerLogs = (caller.logs as { text: string }[]).map((line) => line.text)
    assert.match(callerLogs[0] as string, new RegExp(`^channels.send crm → ok \\(execution ${String(send.id)}, \\d+ ms\\)$`))
  })

  it('fails the calling script clearly for unknown, foreign and script-less channels, failing sends and loops', async (t) => {
    const { root, url, client } = await startServer(t)
    const other = client(ROOT_KEY, { 'switchboard-domain': 'acme' })
    assert.equal((await root.post('/rest/v1/master/domains', { name: 'acme' })).status, 200)
    await script(other, 'acme-send', 'vars.ok = true')
    assert.equal((await other.post(CHANNELS, { code: 'foreign', type: 'public', send_svcscriptcode: 'acme-send' })).status, 200)
    assert.equal((await root.post(CHANNELS, { code: 'mute', type: 'public' })).status, 200)
    await script(root, 'broken-send', 'throw new Error("the CRM is down")')
    assert.equal((await root.post(CHANNELS, { code: 'broken', type: 'public', send_svcscriptcode: 'broken-send' })).status, 200)
    await script(root, 'loop-send', "return await channels.send('loop', startparam(2))")
    assert.equal((await root.post(CHANNELS, { code: 'loop', type: 'public', send_svcscriptcode: 'loop-send' })).status, 200)
    const caller = await webhookChannel(
      root,
      'caller',
      'try { return { sent: await channels.send(startparam(4).to, { n: 1 }) } } catch (error) { return { error: error.message } }',
    )

    const cases: [unknown, RegExp][] = [
      ['nope', /^channels.send: no channel 'nope' in this domain$/],
      ['foreign', /^channels.send: no channel 'foreign' in this domain$/],
      ['mute', /^channels.send: channel 'mute' has no send script \(send_svcscriptcode\)$/],
      ['broken', /^channels.send: the send script of 'broken' ended with error: the CRM is down \(execution [0-9a-f-]{36}\)$/],
      ['loop', /more than 8 sends in one chain/],
      ['', /code must be a channel code/],
      [42, /code must be a channel code/],
    ]
    for (const [to, message] of cases) {
      const answer = await hook(url, caller, { to })
      assert.equal(answer.status, 200)
      assert.match(String(answer.body.error), message, String(to))
    }
    // The loop ran its send script 8 times and stopped; every run is recorded as a send.
    const loops = await recorded(root, { trigger: 'send', script_code: 'loop-send' }, 8)
    assert.equal(loops.length, 8)
    assert.equal((await recorded(other, { trigger: 'send' }, 0)).length, 0, "the other domain's send script never ran")
  })
})
