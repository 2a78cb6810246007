import assert from 'node:assert/strict'
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import { describe, it } from 'node:test'
import { sign as githubSign } from '@octokit/webhooks-methods'
import { Webhook } from 'standardwebhooks'
import Stripe from 'stripe'
import { assertError } from './support/assertions.ts'
import { parseMetrics, sample } from './support/metrics.ts'
import { CHANNELS, type Client, httpClient, json, jsonArray, SCRIPTS, startServer } from './support/server.ts'

const EXECUTIONS = '/rest/v1/service/executions'
const BODY = JSON.stringify({ type: 'invoice.paid', amount: 4200, note: 'ünïcode and spaces  kept' })
/** Answers what the script saw of the check. */
const SCRIPT = 'return { verified: request.verified ?? null, amount: request.body.amount }'

type Headers = Record<string, string>
const now = () => Math.floor(Date.now() / 1000)
const STALE = 60 * 60

/**
 * One scheme as a sender signs with it: the real sender's library where it has one
 * (standardwebhooks, stripe, @octokit/webhooks-methods); Slack and the generic HMAC publish no
 * signing library, so their documented recipe is followed by hand.
 */
interface Scheme {
  readonly name: string
  /** Two secrets of the scheme's form (the old and the new one of a rotation). */
  readonly secrets: readonly [string, string]
  readonly extra?: Record<string, unknown>
  sign(secret: string, body: string, timestamp: number): Promise<Headers>
  /** The header(s) whose absence is "missing". */
  readonly required: readonly string[]
  /** Whether the scheme signs a timestamp (else a stale one cannot be told). */
  readonly timestamped: boolean
}

const whsec = () => `whsec_${randomBytes(24).toString('base64')}`

const SCHEMES: readonly Scheme[] = [
  {
    name: 'standard-webhooks',
    secrets: [whsec(), whsec()],
    async sign(secret, body, timestamp) {
      const id = `msg_${randomUUID()}`
      const signature = new Webhook(secret).sign(id, new Date(timestamp * 1000), body)
      return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature }
    },
    required: ['webhook-signature'],
    timestamped: true,
  },
  {
    name: 'stripe',
    secrets: [`whsec_${randomBytes(16).toString('hex')}`, `whsec_${randomBytes(16).toString('hex')}`],
    async sign(secret, body, timestamp) {
      return { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp }) }
    },
    required: ['stripe-signature'],
    timestamped: true,
  },
  {
    name: 'github',
    secrets: [randomBytes(20).toString('hex'), randomBytes(20).toString('hex')],
    async sign(secret, body) {
      return { 'x-hub-signature-256': await githubSign(secret, body), 'x-github-delivery': randomUUID() }
    },
    required: ['x-hub-signature-256'],
    timestamped: false,
  },
  {
    name: 'slack',
    secrets: [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')],
    async sign(secret, body, timestamp) {
      const signature = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')
      return { 'x-slack-signature': `v0=${signature}`, 'x-slack-request-timestamp': String(timestamp) }
    },
    required: ['x-slack-signature'],
    timestamped: true,
  },
  {
    name: 'hmac',
    secrets: [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')],
    extra: { header: 'X-Shopify-Hmac-Sha256', encoding: 'base64' },
    async sign(secret, body) {
      return { 'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body).digest('base64') }
    },
    required: ['x-shopify-hmac-sha256'],
    timestamped: false,
  },
]

async function verifiedChannel(root: Client, code: string, verify: Record<string, unknown>, issync = true) {
  assert.equal((await root.post(SCRIPTS, { code: `${code}-script`, source: SCRIPT })).status, 200)
  const reply = await root.post(CHANNELS, {
    code,
    type: 'public',
    recv_svcscriptcode: `${code}-script`,
    opts: { issync, verify },
  })
  assert.equal(reply.status, 200, reply.text)
  return json(reply) as { id: string; token_local: string; opts: Record<string, unknown> }
}

async function post(url: string, token: string, headers: Headers, body = BODY) {
  const response = await fetch(`${url}/exec/${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, body: text === '' ? undefined : JSON.parse(text) }
}

async function executionsOf(root: Client, channelId: string): Promise<Record<string, unknown>[]> {
  // Records are written in batches: a flush is at most 20 ms away.
  await new Promise((resolve) => setTimeout(resolve, 100))
  return jsonArray(await root.get(`${EXECUTIONS}?filter=${encodeURIComponent(JSON.stringify({ channel_id: channelId }))}`))
}

describe('opts.verify: inbound signatures', () => {
  for (const scheme of SCHEMES) {
    it(`${scheme.name}: runs a signed webhook, refuses a wrong secret, ${scheme.timestamped ? 'a stale timestamp, ' : ''}a missing header; both secrets sign during a rotation`, async (t) => {
      const { root, url } = await startServer(t)
      const [oldSecret, newSecret] = scheme.secrets
      const channel = await verifiedChannel(root, `verify-${scheme.name}`, {
        scheme: scheme.name,
        secrets: [oldSecret],
        ...scheme.extra,
      })

      const valid = await post(url, channel.token_local, await scheme.sign(oldSecret, BODY, now()))
      assert.equal(valid.status, 200, valid.text)
      const seen = valid.body as { verified: { scheme: string; id?: string; timestamp?: number }; amount: number }
      assert.equal(seen.amount, 4200)
      assert.equal(seen.verified.scheme, scheme.name)
      assert.equal(typeof seen.verified.timestamp, scheme.timestamped ? 'number' : 'undefined')
      assert.equal(typeof seen.verified.id, scheme.name === 'standard-webhooks' ? 'string' : 'undefined')

      // The signature covers the raw bytes: the same JSON with other spacing is another message.
      const signed = await scheme.sign(oldSecret, BODY, now())
      const respaced = await post(url, channel.token_local, signed, JSON.stringify(JSON.parse(BODY), null, 1))
      assert.deepEqual(respaced.body, { error_code: 1401, error_message: 'signature does not match' })

      const wrong = await post(url, channel.token_local, await scheme.sign(newSecret, BODY, now()))
      assert.equal(wrong.status, 401)
      assert.deepEqual(wrong.body, { error_code: 1401, error_message: 'signature does not match' })

      if (scheme.timestamped) {
        const stale = await post(url, channel.token_local, await scheme.sign(oldSecret, BODY, now() - STALE))
        assert.equal(stale.status, 401)
        assert.deepEqual(stale.body, { error_code: 1401, error_message: 'signature timestamp outside tolerance (300 s)' })
        const future = await post(url, channel.token_local, await scheme.sign(oldSecret, BODY, now() + STALE))
        assert.equal(future.status, 401, future.text)
      }

      const headers = await scheme.sign(oldSecret, BODY, now())
      for (const name of scheme.required) delete headers[name]
      const missing = await post(url, channel.token_local, headers)
      assert.equal(missing.status, 401)
      assert.match((missing.body as { error_message: string }).error_message, /^signature missing: the request has no /)

      // Rotation: the new secret first, the old one still listed; both sign.
      const rotated = await root.patch(`${CHANNELS}/${channel.id}`, {
        opts: { verify: { scheme: scheme.name, secrets: [newSecret, oldSecret], ...scheme.extra } },
      })
      assert.equal(rotated.status, 200, rotated.text)
      for (const secret of [newSecret, oldSecret]) {
        const answer = await post(url, channel.token_local, await scheme.sign(secret, BODY, now()))
        assert.equal(answer.status, 200, answer.text)
      }
      // …and once the old one is dropped, only the new one does.
      assert.equal(
        (
          await root.patch(`${CHANNELS}/${channel.id}`, {
            opts: { verify: { scheme: scheme.name, secrets: [newSecret], ...scheme.extra } },
          })
        ).status,
        200,
      )
      assert.equal((await post(url, channel.token_local, await scheme.sign(oldSecret, BODY, now()))).status, 401)

      // Only the runs were recorded: refusals leave no execution.
      const records = await executionsOf(root, channel.id)
      assert.equal(records.length, 3)
      assert.ok(records.every((record) => record.status === 'ok'))

      const samples = parseMetrics((await httpClient(url).get('/metrics')).text)
      const refusals = (reason: string) =>
        sample(samples, 'switchboard_webhook_signature_refusals_total', {
          domain: 'default',
          channel: `verify-${scheme.name}`,
          reason,
        })
      assert.equal(refusals('mismatch'), 3)
      assert.equal(refusals('missing'), 1)
      assert.equal(refusals('timestamp'), scheme.timestamped ? 2 : undefined)
    })
  }

  it('checks async webhooks before accepting them, and their runs see request.verified', async (t) => {
    const { root, url } = await startServer(t)
    const secret = whsec()
    const channel = await verifiedChannel(root, 'verify-async', { scheme: 'standard-webhooks', secrets: [secret] }, false)
    const refused = await post(url, channel.token_local, {
      'webhook-id': 'x',
      'webhook-timestamp': String(now()),
      'webhook-signature': 'v1,AAAA',
    })
    assert.deepEqual(refused.body, { error_code: 1401, error_message: 'signature does not match' })
    const id = `msg_${randomUUID()}`
    const signature = new Webhook(secret).sign(id, new Date(), BODY)
    const accepted = await post(url, channel.token_local, {
      'webhook-id': id,
      'webhook-timestamp': String(now()),
      'webhook-signature': signature,
    })
    assert.equal(accepted.status, 200, accepted.text)
    const executionId = (accepted.body as { execution_id: string }).execution_id
    for (let i = 0; ; i++) {
      const record = json(await root.get(`${EXECUTIONS}/${executionId}`))
      if (record.status === 'ok') {
        const output = record.output as { result: { verified: { scheme: string; id: string } } }
        assert.equal(output.result.verified.scheme, 'standard-webhooks')
        assert.equal(output.result.verified.id, id)
        break
      }
      assert.ok(i < 100, `the job did not run: ${JSON.stringify(record)}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.equal((await executionsOf(root, channel.id)).length, 1)
  })

  it('masks the secrets on every read, keeps them when a PATCH sends the masks back, and hides them from scripts', async (t) => {
    const { root, url } = await startServer(t)
    const [first, second] = [whsec(), whsec()]
    const mask = (secret: string) => `${secret.slice(0, 6)}…${secret.slice(-4)}`
    assert.equal((await root.post(SCRIPTS, { code: 'show-channel', source: 'return channel.opts.verify' })).status, 200)
    const created = await root.post(CHANNELS, {
      code: 'masked',
      type: 'public',
      recv_svcscriptcode: 'show-channel',
      opts: { issync: true, verify: { scheme: 'standard-webhooks', secrets: [first, second], tolerance_s: 60 } },
    })
    assert.equal(created.status, 200, created.text)
    const channel = json(created) as { id: string; token_local: string; opts: { verify: unknown } }
    const shown = { scheme: 'standard-webhooks', secrets: [mask(first), mask(second)], tolerance_s: 60 }
    assert.deepEqual(channel.opts.verify, shown)
    assert.deepEqual((json(await root.get(`${CHANNELS}/${channel.id}`)).opts as { verify: unknown }).verify, shown)
    const listed = jsonArray(await root.get(`${CHANNELS}?filter=${encodeURIComponent('{"code":"masked"}')}`))
    assert.deepEqual((listed[0]?.opts as { verify: unknown } | undefined)?.verify, shown)
    assertError(
      await root.get(`${CHANNELS}?filter=${encodeURIComponent(JSON.stringify({ 'opts.verify.secrets': [first] }))}`),
      400,
      /write-only/,
    )
    assertError(await root.get(`${CHANNELS}?order=opts.verify.secrets`), 400, /write-only/)

    // The masked values sent back (with another tolerance) keep the secrets: both still sign.
    const patched = await root.patch(`${CHANNELS}/${channel.id}`, {
      opts: { verify: { scheme: 'standard-webhooks', secrets: [mask(second), mask(first)], tolerance_s: 120 } },
    })
    assert.equal(patched.status, 200, patched.text)
    assert.deepEqual((json(patched).opts as { verify: unknown }).verify, {
      scheme: 'standard-webhooks',
      secrets: [mask(second), mask(first)],
      tolerance_s: 120,
    })
    for (const secret of [first, second]) {
      const id = randomUUID()
      const answer = await post(url, channel.token_local, {
        'webhook-id': id,
        'webhook-timestamp': String(now()),
        'webhook-signature': new Webhook(secret).sign(id, new Date(), BODY),
      })
      assert.equal(answer.status, 200, answer.text)
      // The script sees the setting, never the secrets.
      assert.deepEqual(answer.body, { scheme: 'standard-webhooks', secrets: [mask(second), mask(first)], tolerance_s: 120 })
    }

    // A masked value that masks no stored secret is refused; null turns the check off.
    assertError(
      await root.patch(`${CHANNELS}/${channel.id}`, {
        opts: { verify: { scheme: 'standard-webhooks', secrets: ['whsec_…abcd'] } },
      }),
      400,
      /opts\.verify\.secrets\.0 is masked/,
      'opts.verify.secrets.0',
    )
    const off = await root.patch(`${CHANNELS}/${channel.id}`, { opts: { verify: null } })
    assert.equal(off.status, 200, off.text)
    assert.equal((json(off).opts as { verify?: unknown }).verify, undefined)
    assert.equal((await post(url, channel.token_local, {})).status, 200)
  })

  it('refuses settings that do not go together, with the field named', async (t) => {
    const { root } = await startServer(t)
    const create = (verify: unknown) => root.post(CHANNELS, { code: `bad-${randomUUID()}`, type: 'public', opts: { verify } })
    assertError(await create({ scheme: 'hmac', secrets: ['s'] }), 400, /header is required/, 'opts.verify.header')
    assertError(await create({ scheme: 'github', secrets: ['s'], header: 'x-sig' }), 400, /hmac only/, 'opts.verify.header')
    assertError(
      await create({ scheme: 'github', secrets: ['s'], tolerance_s: 30 }),
      400,
      /no timestamp/,
      'opts.verify.tolerance_s',
    )
    assertError(await create({ scheme: 'standard-webhooks', secrets: ['not base64!'] }), 400, /whsec_/, 'opts.verify.secrets.0')
    assertError(await create({ scheme: 'stripe', secrets: [] }), 400)
    assertError(await create({ scheme: 'stripe', secrets: ['a', 'b', 'c'] }), 400)
    assertError(await create({ scheme: 'md5', secrets: ['a'] }), 400)
    assertError(await create({ scheme: 'stripe', secrets: ['a'], tolerance_s: 0 }), 400)
  })
})
