import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import WebSocket from 'ws'
import { launchBrowser, openPage, overflow, screenshot } from './support/browser.ts'
import { CHANNELS, json, jsonArray, ROOT_KEY, startServer } from './support/server.ts'

const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

/** Replaces the CodeMirror document with `text`, as if typed without auto-closing brackets. */
async function setSource(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').click()
  await page.keyboard.press('Control+A')
  await page.keyboard.insertText(text)
}

async function go(page: Page, link: string, heading: string | RegExp): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: link }).click()
  await page.getByRole('heading', { level: 1, name: heading }).waitFor()
}

async function sendFromTester(page: Page, body: string): Promise<void> {
  await go(page, 'Webhook tester', 'Webhook tester')
  await page.getByLabel('Body').fill(body)
  await page.getByRole('button', { name: 'Send' }).click()
  await page.getByRole('heading', { name: 'Execution' }).waitFor()
}

describe('admin console (a real browser against a real server)', () => {
  it('signs in, builds a channel with a script, tests it, follows a failure and replays the fix', async (t) => {
    const { url, root } = await startServer(t)
    const browser = await launchBrowser(t)
    const { page, errors, failed } = await openPage(browser, DESKTOP)
    page.setDefaultTimeout(15_000)

    // Sign in by keyboard; a wrong key is told in words.
    await page.goto(`${url}/ui/`)
    await page.getByLabel('API key').fill('not-a-key')
    await page.keyboard.press('Enter')
    await page.getByText('That API key was not accepted.').waitFor()
    await screenshot(page, 'sign-in')
    await page.getByLabel('API key').fill(ROOT_KEY)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor()
    await page.getByText('No channels yet.').waitFor()

    // A script: completions from the script API, a compile error at its line, then a good source.
    await go(page, 'Scripts', 'Scripts')
    await page.getByRole('link', { name: 'New script' }).click()
    await page.getByLabel('Code', { exact: true }).fill('orders')
    await setSource(page, 'http.')
    await page.keyboard.press('Control+Space')
    await page.locator('.cm-tooltip-autocomplete').getByText('request', { exact: true }).waitFor()
    await page.keyboard.press('Escape')
    await setSource(page, 'const body = startparam(4)\nconst total = ;')
    await page.getByRole('button', { name: 'Create script' }).click()
    await page.getByText("Does not compile — line 2, column 15: Unexpected token ';'").waitFor()
    await page.locator('.cm-lintRange-error').waitFor()
    assert.equal(await page.locator('.cm-lintRange-error').count(), 1, 'the error is marked in the editor, once')
    await screenshot(page, 'script-compile-error')
    await setSource(page, 'const body = startparam(4)\nlog.info("qty", body.qty)\nreturn { total: body.qty * 2 }')
    await page.getByRole('button', { name: 'Create script' }).click()
    await page.getByRole('heading', { level: 1, name: 'orders' }).waitFor()

    // The run panel runs the saved script with start parameters.
    await page.getByLabel('Start parameters').fill('[null, "POST", "/exec", {"qty": 5}]')
    await page.getByRole('button', { name: 'Run', exact: true }).click()
    await page.getByRole('region', { name: 'Variables' }).getByText('"total": 10').waitFor()
    await page.getByText('qty 5').waitFor()
    await screenshot(page, 'script-editor')

    // A channel: the API's field errors show inline, then it is created with the script.
    await go(page, 'Channels', 'Channels')
    await page.getByRole('link', { name: 'New channel' }).click()
    await page.getByLabel('Code', { exact: true }).fill('bad code!')
    await page.getByLabel('Webhook script').selectOption('orders')
    await page.getByRole('button', { name: 'Create channel' }).click()
    const codeField = page.getByLabel('Code', { exact: true })
    await page.locator('.field.invalid').getByText('may contain only letters, digits and _ . -').waitFor()
    assert.equal(await codeField.getAttribute('aria-invalid'), 'true')
    await codeField.fill('shop')
    await page.getByRole('button', { name: 'Create channel' }).click()
    await page.getByRole('heading', { level: 1, name: 'shop' }).waitFor()
    await page.getByRole('heading', { name: 'Token' }).waitFor()
    await page.getByText(/curl -sS -X POST .*\/exec/).waitFor()
    await screenshot(page, 'channel')

    // The tester sends a webhook and shows the reply beside its execution.
    await sendFromTester(page, '{"qty": 21}')
    await page.getByRole('region', { name: 'Reply body' }).getByText('"total": 42').waitFor()
    await page.getByRole('region', { name: 'Output' }).getByText('"total": 42').waitFor()
    await screenshot(page, 'tester')

    // Break the script: the webhook fails with 500, the execution says why.
    await go(page, 'Scripts', 'Scripts')
    await page.getByRole('link', { name: 'orders' }).click()
    await setSource(page, 'throw new Error("out of stock")')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByText('Saved. The next execution uses it.').waitFor()
    await sendFromTester(page, '{"qty": 1}')
    await page.getByRole('heading', { name: /Reply\s+500/ }).waitFor()
    await page
      .getByRole('alert')
      .getByText(/Line 1, column \d+: out of stock/)
      .waitFor()

    // The executions list, filtered to failures, leads to the failed one.
    await go(page, 'Executions', 'Executions')
    await page.getByLabel('Status').selectOption('error')
    await page.waitForURL(/status=error/)
    await page.getByText('1–1 of 1').waitFor()
    assert.match((await page.locator('tbody tr').textContent()) ?? '', /error.*out of stock.*http.*orders.*shop/)
    await screenshot(page, 'executions')
    await page.locator('tbody tr a').first().click()
    await page.getByRole('heading', { level: 1, name: /Execution/ }).waitFor()
    await page
      .getByText(/out of stock/)
      .first()
      .waitFor()
    const failedUrl = page.url()

    // Fix it, and replay the failed execution through the fixed script.
    await go(page, 'Scripts', 'Scripts')
    await page.getByRole('link', { name: 'orders' }).click()
    await setSource(page, 'return { total: startparam(4).qty * 2, fixed: true }')
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByText('Saved. The next execution uses it.').waitFor()
    await page.goto(failedUrl)
    await page.getByRole('button', { name: 'Replay' }).click()
    await page.getByRole('term').getByText('Replay of').waitFor()
    await page.getByRole('region', { name: 'Output' }).getByText('"fixed": true').waitFor()
    assert.notEqual(page.url(), failedUrl)
    await screenshot(page, 'execution')

    // Live: executions and a websocket connection, updating without a reload.
    const [shop] = jsonArray(await root.get(`${CHANNELS}?filter=${encodeURIComponent('{"code":"shop"}')}`))
    const channelToken = String(shop?.token_local)
    await go(page, 'Live', 'Live')
    await page.getByRole('list', { name: 'Executions, newest first' }).getByRole('link', { name: 'orders' }).first().waitFor()
    const socket = new WebSocket(`${url.replace('http', 'ws')}/ws/token/v1/${channelToken}`)
    t.after(() => socket.close())
    await new Promise((resolve) => socket.once('open', resolve))
    await page.getByText('1 connected').waitFor()
    await screenshot(page, 'live')

    // Users and keys: a new key's secret is shown once.
    await go(page, 'Users & keys', 'Users & keys')
    await page.getByLabel('Login').fill('ann')
    await page.getByRole('button', { name: 'Add user' }).click()
    await page.getByRole('cell', { name: 'ann' }).waitFor()
    await page.getByRole('button', { name: 'New key' }).click()
    await page.getByText(/It is shown only now/).waitFor()
    assert.match((await page.locator('.note.ok code.token').textContent()) ?? '', /^sbk_/)
    await screenshot(page, 'users')

    // Signing out forgets the key.
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('API key').waitFor()
    assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.key')), null)
    assert.deepEqual(errors, [], 'no console errors')
    assert.deepEqual(
      failed,
      [
        '401 GET /rest/v1/service/license',
        '400 POST /rest/v1/service/svcscripts',
        '400 POST /rest/v1/service/integration_points',
        '500 POST /exec',
      ],
      'the only failed requests are the ones the test provoked',
    )
  })

  it('watches events live through a websocket subscription', async (t) => {
    const { url, root } = await startServer(t)
    await root.post('/rest/v1/service/svcscripts', {
      code: 'emit',
      source: 'await events.emit("order_paid", { order: startparam(4).order })',
    })
    const source = json(
      await root.post(CHANNELS, { code: 'shop', type: 'public', recv_svcscriptcode: 'emit', opts: { issync: true } }),
    )
    await root.post(CHANNELS, { code: 'watch', type: 'eventing', opts: { filter_capabilities: ['subscr'] } })
    const browser = await launchBrowser(t)
    const { page, errors, failed } = await openPage(browser, DESKTOP)
    page.setDefaultTimeout(15_000)
    await page.goto(`${url}/ui/`)
    await page.getByLabel('API key').fill(ROOT_KEY)
    await page.keyboard.press('Enter')
    await go(page, 'Events', 'Events')
    await page.getByLabel('Events', { exact: true }).fill('projectevents.order_paid')
    await page.getByRole('button', { name: 'Watch' }).click()
    await page.getByText('Watching watch.').waitFor()
    for (const order of [7, 8]) {
      const answer = await fetch(`${url}/exec`, {
        method: 'POST',
        headers: { authorization: `Bearer ${String(source.token_local)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ order }),
      })
      assert.equal(answer.status, 200)
    }
    const list = page.getByRole('list', { name: 'Events, newest first' })
    await list.getByRole('region', { name: 'projectevents.order_paid data' }).nth(1).waitFor()
    assert.match((await list.textContent()) ?? '', /"order": 8[\s\S]*"order": 7/)
    await screenshot(page, 'events')
    await page.getByRole('button', { name: 'Stop' }).click()
    await page.getByText('Not watching.').waitFor()
    assert.deepEqual(errors, [], 'no console errors')
    assert.deepEqual(failed, [])
  })

  it('fits a phone-width screen on every page without sideways scrolling', async (t) => {
    const { url, root } = await startServer(t)
    await root.post('/rest/v1/service/svcscripts', { code: 'hello', source: 'return { hi: startparam(4) }' })
    await root.post(CHANNELS, {
      code: 'phone-channel-with-a-long-code',
      type: 'public',
      url: 'https://api.example.com/a/rather/long/path/that/should/wrap/',
      recv_svcscriptcode: 'hello',
      opts: { issync: true },
    })
    const browser = await launchBrowser(t)
    const { page, errors, failed } = await openPage(browser, PHONE)
    page.setDefaultTimeout(15_000)
    await page.goto(`${url}/ui/`)
    await page.getByLabel('API key').fill(ROOT_KEY)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor()
    for (const [link, heading] of [
      ['Channels', 'Channels'],
      ['Scripts', 'Scripts'],
      ['Executions', 'Executions'],
      ['Live', 'Live'],
      ['Events', 'Events'],
      ['Webhook tester', 'Webhook tester'],
      ['Users & keys', 'Users & keys'],
    ] as const) {
      // The navigation folds into a menu on a narrow screen.
      await page.getByRole('button', { name: 'Menu' }).click()
      await go(page, link, heading)
      assert.equal(await overflow(page), 0, `${link} fits ${PHONE.width} px`)
    }
    await page.getByRole('button', { name: 'Menu' }).click()
    await go(page, 'Channels', 'Channels')
    await page.getByRole('link', { name: 'phone-channel-with-a-long-code' }).click()
    await page.getByRole('heading', { name: 'Token' }).waitFor()
    assert.equal(await overflow(page), 0, 'a channel fits')
    await screenshot(page, 'phone-channel')
    assert.deepEqual(errors, [], 'no console errors')
    assert.deepEqual(failed, [])
  })
})
