import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Channel } from '../src/channels/channel-schemas.ts'
import { assertError, assertMatchesSchema } from './support/assertions.ts'
import { BACKENDS, CHANNEL_TYPES, CHANNELS, DOMAINS, json, jsonArray, SCRIPTS, startServer, USERS } from './support/server.ts'

const TOKENS = '/rest/v1/service/integration_tokens'

for (const backend of BACKENDS) {
  describe(`integration points (SPEC §3) on ${backend}`, () => {
    it('creates a channel with every default and a generated 32-hex token', async (t) => {
      const { root } = await startServer(t, { backend })
      const channel = json(await root.post(CHANNELS, { code: 'orders', type: 'public' }))
      assertMatchesSchema(Channel, channel)
      assert.match(channel.token_local as string, /^[0-9a-f]{32}$/)
      assert.deepEqual(channel, {
        id: channel.id,
        code: 'orders',
        type: 'public',
        token_local: channel.token_local,
        token_remote: '',
        token_remote2: '',
        ipmask: [],
        url: '',
        recv_svcscriptcode: '',
        send_svcscriptcode: '',
        recv_svcscriptcode_ws: '',
        send_svcscriptcode_ws: '',
        opts: {
          allow_files_api: false,
          comment: '',
          issync: false,
          recv_timeout: 0,
          roles: [],
          userid: null,
          title: '',
          filter_capabilities: [],
        },
        ext: channel.ext,
      })
      const second = json(await root.post(CHANNELS, { code: 'other', type: 'public' }))
      assert.notEqual(second.token_local, channel.token_local)
    })

    it('stores every field a client may set', async (t) => {
      const { root } = await startServer(t, { backend })
      await root.post(SCRIPTS, { code: 'recv' })
      await root.post(SCRIPTS, { code: 'send' })
      const user = json(await root.post(USERS, { login: 'bot', roles: ['admin'] }))
      const body = {
        code: 'crm.v2',
        type: 'public',
        token_local: 'given_Token-0123456789',
        token_remote: 'remote-secret',
        token_remote2: 'second-secret',
        ipmask: ['203.0.113.0/24', '2001:db8::1', '10.1.2.3', '::ffff:192.0.2.0/120'],
        url: 'https://crm.example.com/api/',
        recv_svcscriptcode: 'recv',
        send_svcscriptcode: 'send',
        recv_svcscriptcode_ws: 'recv',
        send_svcscriptcode_ws: 'send',
        opts: {
          allow_files_api: true,
          comment: 'CRM',
          issync: true,
          recv_timeout: 60,
          roles: ['admin'],
          userid: user.id,
          title: 'CRM v2',
          filter_capabilities: ['svcscript', 'rest'],
        },
        ext: { owner: 'sales' },
      }
      const channel = json(await root.post(CHANNELS, body))
      assert.deepEqual(channel, { ...body, id: channel.id, ext: { ...(channel.ext as object), owner: 'sales' } })
      assert.deepEqual(json(await root.get(`${CHANNELS}/${String(channel.id)}`)), channel)
    })

    it('validates every rule with 1400 naming the field, and stores nothing', async (t) => {
      const { root } = await startServer(t, { backend })
      const base = { code: 'c', type: 'public' }
      const cases: [Record<string, unknown>, string, RegExp?][] = [
        [{ type: 'public' }, 'code', /required/],
        [{ code: 'c' }, 'type', /required/],
        [{ ...base, code: 'a b' }, 'code'],
        [{ ...base, type: 'nosuchtype' }, 'type', /not public, eventing or a channel type/],
        [{ ...base, token_local: 'short' }, 'token_local'],
        [{ ...base, token_local: 'has spaces in it 12345' }, 'token_local'],
        [{ ...base, token_local: 'x'.repeat(129) }, 'token_local'],
        [{ ...base, ipmask: ['10.0.0.0/8', 'not-an-ip'] }, 'ipmask.1', /not an IPv4\/IPv6 address/],
        [{ ...base, ipmask: ['10.0.0.0/33'] }, 'ipmask.0', /prefix length/],
        [{ ...base, ipmask: '10.0.0.1, nope' }, 'ipmask.1', /not an IPv4\/IPv6 address/],
        [{ ...base, ipmask: 42 }, 'ipmask'],
        [{ ...base, code: 'smile😀' }, 'code', /may contain only letters, digits and _ \. -/],
        [{ ...base, code: 'half½' }, 'code', /may contain only letters, digits/],
        [{ ...base, url: 'ftp://example.com' }, 'url', /http or https/],
        [{ ...base, url: '/relative' }, 'url', /absolute/],
        [{ ...base, url: 'https://user:pw@example.com' }, 'url', /credentials/],
        [{ ...base, recv_svcscriptcode: 'missing' }, 'recv_svcscriptcode', /does not exist/],
        [{ ...base, send_svcscriptcode_ws: 'missing' }, 'send_svcscriptcode_ws', /does not exist/],
        [{ ...base, opts: { recv_timeout: 61 } }, 'opts.recv_timeout', /<= 60/],
        [{ ...base, opts: { recv_timeout: -1 } }, 'opts.recv_timeout'],
        [{ ...base, opts: { recv_timeout: 1.5 } }, 'opts.recv_timeout', /integer/],
        [{ ...base, opts: { recv_timeout: '5' } }, 'opts.recv_timeout', /integer/],
        [{ ...base, opts: { issync: 'yes' } }, 'opts.issync', /boolean/],
        [{ ...base, opts: { nope: true } }, 'opts.nope', /not a known field/],
        [{ ...base, opts: { roles: ['wizard'] } }, 'opts.roles', /not a known role/],
        [{ ...base, opts: { userid: '3f2b8c1e-7d4a-4c6b-9e1f-2a3b4c5d6e7f' } }, 'opts.userid', /does not exist/],
        [{ ...base, opts: { userid: 'bob' } }, 'opts.userid', /UUID/],
        [{ ...base, opts: { filter_capabilities: ['everything'] } }, 'opts.filter_capabilities.0'],
        [{ ...base, type: 'eventing', recv_svcscriptcode: 'x' }, 'recv_svcscriptcode', /empty on an eventing channel/],
        [{ ...base, token_remote: 42 }, 'token_remote', /string/],
      ]
      for (const [body, field, message] of cases) {
        const reply = await root.post(CHANNELS, body)
        assertError(reply, 400, message, field)
      }
      assert.equal((await root.get(CHANNELS)).headers.get('x-total-count'), '0')
    })

    it('takes codes in any script, kept in NFC so both spellings of a name are one code', async (t) => {
      const { root, url } = await startServer(t, { backend })
      const nfc = 'caf\u00e9'
      const nfd = 'cafe\u0301'
      // Script, role, channel type and channel codes; references spelled the other way round.
      const script = json(await root.post(SCRIPTS, { code: 'заказы', source: 'return channel.code' }))
      const sender = json(
        await root.post(SCRIPTS, { code: '注文-送信', source: `return await channels.send('${nfd}', { n: 1 })` }),
      )
      const role = json(await root.post('/rest/v1/iam/roles', { code: 'оператор_1', permissions: [] }))
      const channelType = json(await root.post(CHANNEL_TYPES, { type: 'банк' }))
      const user = json(await root.post(USERS, { login: 'ann', roles: ['оператор_1'] }))
      const channel = json(
        await root.post(CHANNELS, {
          code: nfd,
          type: 'public',
          recv_svcscriptcode: 'заказы',
          send_svcscriptcode: 'заказы',
          opts: { issync: true, roles: ['оператор_1'] },
        }),
      )
      assert.deepEqual(
        [script.code, sender.code, role.code, channelType.type, user.roles, channel.code],
        ['заказы', '注文-送信', 'оператор_1', 'банк', ['оператор_1'], nfc],
      )
      assert.deepEqual((channel.opts as { roles: string[] }).roles, ['оператор_1'])
      assert.equal(json(await root.get(`${CHANNELS}/${String(channel.id)}`)).code, nfc, 'stored in NFC')
      for (const code of ['हिन्दी', 'دفع_١٢', 'Straße.v2']) {
        assert.equal(json(await root.post(CHANNELS, { code, type: 'банк' })).code, code)
      }

      // Lookups, filters and uniqueness see one code, however it is spelled.
      assert.equal(json(await root.post(`${CHANNELS}/lookup`, { code: nfd })).id, channel.id)
      assert.equal(json(await root.post(`${CHANNELS}/lookup`, { code: nfc })).id, channel.id)
      const filtered = jsonArray(
        await root.get(`${CHANNELS}?filter=${encodeURIComponent(JSON.stringify({ code: nfd }))}&mask=id`),
      )
      assert.deepEqual(filtered, [{ id: channel.id }])
      assertError(
        await root.post(CHANNELS, { code: nfc, type: 'public' }),
        409,
        new RegExp(`code '${nfc}' already exists`),
        'code',
      )

      // Webhooks and channels.send reach them.
      const hook = await fetch(`${url}/exec`, {
        method: 'POST',
        headers: { authorization: `Bearer ${String(channel.token_local)}` },
      })
      assert.equal(await hook.text(), nfc)
      const sent = json(await root.post(`${SCRIPTS}/${String(sender.id)}/run`, {}))
      assert.deepEqual(sent.variables, { result: { result: nfc } })
    })

    it('takes ipmask as a list or as one comma-separated string', async (t) => {
      const { root, url } = await startServer(t, { backend })
      const channel = json(
        await root.post(CHANNELS, { code: 'masked', type: 'public', ipmask: ' 203.0.113.0/24, 2001:db8::1 ,,127.0.0.1' }),
      )
      assert.deepEqual(channel.ipmask, ['203.0.113.0/24', '2001:db8::1', '127.0.0.1'])
      const exec = () =>
        fetch(`${url}/exec`, { method: 'POST', headers: { authorization: `Bearer ${String(channel.token_local)}` } })
      assert.notEqual((await exec()).status, 403, '127.0.0.1 is in the mask')
      const patched = json(await root.patch(`${CHANNELS}/${String(channel.id)}`, { ipmask: '203.0.113.7' }))
      assert.deepEqual(patched.ipmask, ['203.0.113.7'])
      assert.deepEqual(json(await root.get(`${CHANNELS}/${String(channel.id)}`)).ipmask, ['203.0.113.7'])
      assert.equal((await exec()).status, 403)
      assert.deepEqual(json(await root.patch(`${CHANNELS}/${String(channel.id)}`, { ipmask: '' })).ipmask, [])
      const many = Array.from({ length: 257 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(',')
      assertError(await root.patch(`${CHANNELS}/${String(channel.id)}`, { ipmask: many }), 400, /at most 256 entries/, 'ipmask')
    })

    it('keeps codes unique per domain and tokens unique in the installation (1409)', async (t) => {
      const { root, client } = await startServer(t, { backend })
      await root.post(DOMAINS, { name: 'acme' })
      const acme = client('test-root-key-0123456789abcdef', { 'switchboard-domain': 'acme' })
      const first = json(await root.post(CHANNELS, { code: 'same', type: 'public', token_local: 'shared-token-0123456789' }))
      assertError(await root.post(CHANNELS, { code: 'same', type: 'public' }), 409, /code 'same' already exists/, 'code')
      const reply = await acme.post(CHANNELS, { code: 'same', type: 'public', token_local: 'shared-token-0123456789' })
      assertError(reply, 409, /token_local is already in use/, 'token_local')
      assert.doesNotMatch(reply.text, /shared-token/, 'a 1409 never echoes a token')
      assert.equal((await acme.post(CHANNELS, { code: 'same', type: 'public' })).status, 200)
      const second = json(await root.post(CHANNELS, { code: 'two', type: 'public' }))
      const patch = await root.patch(`${CHANNELS}/${String(second.id)}`, { token_local: first.token_local })
      assertError(patch, 409, /token_local is already in use/)
      assertError(await root.patch(`${CHANNELS}/${String(second.id)}`, { code: 'same' }), 409, /already exists/)
    })

    it('rotates a token with "token_local": null and the old one stops at once', async (t) => {
      const { root } = await startServer(t, { backend })
      const channel = json(await root.post(CHANNELS, { code: 'c', type: 'public' }))
      const oldToken = channel.token_local as string
      assert.equal((await root.get(`${TOKENS}/${oldToken}`)).status, 200)
      const rotated = json(await root.patch(`${CHANNELS}/${String(channel.id)}`, { token_local: null }))
      assert.match(rotated.token_local as string, /^[0-9a-f]{32}$/)
      assert.notEqual(rotated.token_local, oldToken)
      assertError(await root.get(`${TOKENS}/${oldToken}`), 404, /^Token not found$/)
      assert.equal((await root.get(`${TOKENS}/${String(rotated.token_local)}`)).status, 200)
      const given = json(await root.patch(`${CHANNELS}/${String(channel.id)}`, { token_local: 'chosen-token-abcdefghij' }))
      assert.equal(given.token_local, 'chosen-token-abcdefghij')
      assertError(await root.get(`${TOKENS}/${String(rotated.token_local)}`), 404)
      await root.delete(`${CHANNELS}/${String(channel.id)}`)
      assertError(await root.get(`${TOKENS}/chosen-token-abcdefghij`), 404)
    })

    it('checks a token for the caller’s domain only (SPEC §3.3)', async (t) => {
      const { root, client } = await startServer(t, { backend })
      await root.post(DOMAINS, { name: 'acme' })
      const channel = json(await root.post(CHANNELS, { code: 'c', type: 'public' }))
      const token = channel.token_local as string
      assert.deepEqual(json(await root.get(`${TOKENS}/${token}`)), {
        domain: 'default',
        integration_point: { id: channel.id, _links: { self: { href: `${CHANNELS}/${String(channel.id)}` } } },
      })
      const acme = client('test-root-key-0123456789abcdef', { 'switchboard-domain': 'acme' })
      const reply = await acme.get(`${TOKENS}/${token}`)
      assertError(reply, 404)
      assert.deepEqual(reply.body, { error_code: 1404, error_message: 'Token not found' })
      assertError(await root.get(`${TOKENS}/unknown`), 404)
    })

    it('keeps script references valid: unknown refused, used scripts cannot be deleted or renamed', async (t) => {
      const { root } = await startServer(t, { backend })
      const script = json(await root.post(SCRIPTS, { code: 'handler' }))
      const channel = json(await root.post(CHANNELS, { code: 'c', type: 'public', recv_svcscriptcode: 'handler' }))
      const scriptPath = `${SCRIPTS}/${String(script.id)}`
      assertError(await root.delete(scriptPath), 409, /used by channels c/)
      assertError(await root.patch(scriptPath, { code: 'renamed' }), 409, /cannot be renamed/)
      assert.equal((await root.patch(scriptPath, { source: 'return 2' })).status, 200)
      assertError(
        await root.patch(`${CHANNELS}/${String(channel.id)}`, { send_svcscriptcode: 'ghost' }),
        400,
        /ghost/,
        'send_svcscriptcode',
      )
      assert.equal((await root.patch(`${CHANNELS}/${String(channel.id)}`, { recv_svcscriptcode: '' })).status, 200)
      assert.equal((await root.delete(scriptPath)).status, 200)
    })

    it('refuses more channels than the licence allows (1403), counting type changes too', async (t) => {
      const { root } = await startServer(t, { backend, env: { SWITCHBOARD_LICENSE: '{"public": 2, "eventing": 1}' } })
      const p1 = json(await root.post(CHANNELS, { code: 'p1', type: 'public' }))
      await root.post(CHANNELS, { code: 'p2', type: 'public' })
      assertError(
        await root.post(CHANNELS, { code: 'p3', type: 'public' }),
        403,
        /licence allows 2 channels of type 'public' and 2 are in use/,
      )
      const eventing = json(await root.post(CHANNELS, { code: 'e1', type: 'eventing' }))
      assert.equal((await root.patch(`${CHANNELS}/${String(eventing.id)}`, { opts: { title: 'same type' } })).status, 200)
      assertError(await root.patch(`${CHANNELS}/${String(p1.id)}`, { type: 'eventing' }), 403, /type 'eventing'/)
      assert.equal(json(await root.get(`${CHANNELS}/${String(p1.id)}`)).type, 'public')
      assert.deepEqual(jsonArray(await root.get('/rest/v1/service/license')), [
        { type: 'eventing', limit: 1, used: 1 },
        { type: 'public', limit: 2, used: 2 },
      ])
    })

    it('never over-allocates a licence under concurrent creates', async (t) => {
      const { root } = await startServer(t, { backend, env: { SWITCHBOARD_LICENSE: '{"public": 3}' } })
      const replies = await Promise.all(
        Array.from({ length: 12 }, (_, i) => root.post(CHANNELS, { code: `c${i}`, type: 'public' })),
      )
      assert.equal(replies.filter((reply) => reply.status === 200).length, 3)
      for (const reply of replies.filter((r) => r.status !== 200)) assertError(reply, 403, /licence/)
      assert.equal((await root.get(CHANNELS)).headers.get('x-total-count'), '3')
    })

    it('applies a domain’s own licence over the installation default', async (t) => {
      const { root, client } = await startServer(t, { backend, env: { SWITCHBOARD_LICENSE: '{"public": 1}' } })
      const domain = json(await root.post(DOMAINS, { name: 'big', license: { public: 3 } }))
      const big = client('test-root-key-0123456789abcdef', { 'switchboard-domain': 'big' })
      for (const code of ['a', 'b', 'c']) assert.equal((await big.post(CHANNELS, { code, type: 'public' })).status, 200)
      assertError(await big.post(CHANNELS, { code: 'd', type: 'public' }), 403, /allows 3/)
      await root.patch(`${DOMAINS}/${String(domain.id)}`, { license: { public: 4, eventing: 0 } })
      assert.equal((await big.post(CHANNELS, { code: 'd', type: 'public' })).status, 200)
      assertError(await big.post(CHANNELS, { code: 'e', type: 'eventing' }), 403, /allows 0 channels of type 'eventing'/)
      assert.deepEqual(jsonArray(await big.get('/rest/v1/service/license')), [
        { type: 'eventing', limit: 0, used: 0 },
        { type: 'public', limit: 4, used: 4 },
      ])
      await root.patch(`${DOMAINS}/${String(domain.id)}`, { license: null })
      assert.deepEqual(jsonArray(await big.get('/rest/v1/service/license')), [
        { type: 'eventing', limit: null, used: 0 },
        { type: 'public', limit: 1, used: 4 },
      ])
    })

    it('gives channels of a solution-defined type the type’s fixed values (SPEC §3.1)', async (t) => {
      const { root } = await startServer(t, { backend })
      const typeBody = {
        type: 'telegram',
        recv_svcscriptcode: 'tg_recv',
        send_svcscriptcode: 'tg_send',
        url: 'https://api.telegram.org/',
        issync: true,
        recv_timeout: 30,
      }
      const channelType = json(await root.post(CHANNEL_TYPES, typeBody))
      const channel = json(await root.post(CHANNELS, { code: 'bot', type: 'telegram', opts: { title: 'Bot' } }))
      assert.equal(channel.recv_svcscriptcode, 'tg_recv', 'scripts of a solution type are looked up when they run')
      assert.equal(channel.send_svcscriptcode, 'tg_send')
      assert.equal(channel.url, 'https://api.telegram.org/')
      assert.deepEqual(channel.opts, { ...(channel.opts as object), issync: true, recv_timeout: 30, title: 'Bot' })
      assertError(await root.post(CHANNELS, { code: 'b2', type: 'telegram', url: 'https://other/' }), 400, /fixed to/, 'url')
      assertError(
        await root.post(CHANNELS, { code: 'b2', type: 'telegram', opts: { issync: false } }),
        400,
        /fixed to true/,
        'opts.issync',
      )
      assert.equal((await root.post(CHANNELS, { code: 'b2', type: 'telegram', opts: { issync: true } })).status, 200)
      const path = `${CHANNELS}/${String(channel.id)}`
      assertError(await root.patch(path, { recv_svcscriptcode: 'mine' }), 400, /fixed/, 'recv_svcscriptcode')

      await root.patch(`${CHANNEL_TYPES}/${String(channelType.id)}`, { url: 'https://api.telegram.org/v2/', recv_timeout: 45 })
      const updated = json(await root.get(path))
      assert.equal(updated.url, 'https://api.telegram.org/v2/')
      assert.equal((updated.opts as Record<string, unknown>).recv_timeout, 45)
      assert.ok((updated.ext as { lwt: string }).lwt > (channel.ext as { lwt: string }).lwt)

      assertError(await root.delete(`${CHANNEL_TYPES}/${String(channelType.id)}`), 409, /used by 2 channel/)
      const toPublic = await root.patch(path, { type: 'public' })
      assertError(toPublic, 400, /tg_recv.*does not exist/)
      const cleared = json(await root.patch(path, { type: 'public', recv_svcscriptcode: '', send_svcscriptcode: '', url: '' }))
      assert.equal(cleared.type, 'public')
      assert.equal((cleared.opts as Record<string, unknown>).recv_timeout, 45, 'values stay when leaving the type')
    })
  })
}
