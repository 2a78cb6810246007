import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import type { Page } from 'playwright-core'
import { launchBrowser, overflow, screenshot } from './support/browser.ts'
import { CHANNELS, json, jsonArray, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'

const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

async function go(page: Page, link: string, heading: string | RegExp): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: link }).click()
  await page.getByRole('heading', { level: 1, name: heading }).waitFor()
}

/** Waits until `check` holds (the page renders a change a moment after the event). */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 15_000
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The same screen at phone width, in a second page of the same browser: no sideways scrolling. */
async function atPhoneWidth(phone: Page, url: string, name: string, ready: (page: Page) => Promise<void>): Promise<void> {
  await phone.goto(url)
  await ready(phone)
  assert.ok((await overflow(phone)) <= 1, `${name} scrolls sideways at phone width`)
  await screenshot(phone, `phone-${name}`)
}

describe('the console as the place to debug an integration (a real browser against a real server)', () => {
  it('reads a body, copies a curl and runs it, resends, searches, watches retries fail, bulk-replays, sees error rates, type errors while typing, and rolls a script back', async (t) => {
    const { url, root } = await startServer(t, { config: { asyncAttempts: 2, asyncRetryMs: 2500 } })
    const browser = await launchBrowser(t)
    const context = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    page.setDefaultTimeout(20_000)
    const phoneContext = await browser.newContext({ viewport: PHONE })
    const phone = await phoneContext.newPage()
    phone.setDefaultTimeout(20_000)
    await phone.addInitScript(`sessionStorage.setItem('switchboard.key', ${JSON.stringify(ROOT_KEY)})`)

    const orders = json(
      await root.post(SCRIPTS, {
        code: 'orders',
        source:
          'const body = startparam(4)\nlog.info("order", body.order)\nawait sleep(30)\nlog.info("done")\nreturn { order: body.order }',
      }),
    )
    const shop = json(
      await root.post(CHANNELS, { code: 'shop', type: 'public', recv_svcscriptcode: 'orders', opts: { issync: true } }),
    )
    assert.equal((await root.post(SCRIPTS, { code: 'billing', source: 'throw new Error("ledger down")' })).status, 200)
    const queue = json(await root.post(CHANNELS, { code: 'queue', type: 'public', recv_svcscriptcode: 'billing' }))
    assert.equal((queue.opts as { issync: boolean }).issync, false)
    // A channel without a webhook script, created first: the tester must not pick it.
    await root.post(CHANNELS, { code: 'aaa-empty', type: 'public', opts: { issync: true } })

    await page.goto(`${url}/ui/`)
    await page.getByLabel('API key').fill(ROOT_KEY)
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor()
    assert.equal(await page.getByLabel('Domain').getAttribute('placeholder'), 'default')

    // 1. Read a JSON body: the tester sends one, the inspector shows it as JSON, sec-* headers folded.
    await go(page, 'Webhook tester', 'Webhook tester')
    assert.equal(await page.getByLabel('Channel').inputValue(), queue.id, 'the first channel (by code) with a webhook script')
    await page.getByLabel('Channel').selectOption(String(shop.id))
    await page.getByLabel('Sub-path').fill('orders?source=shop')
    await page.getByLabel('Body').fill('{"order": 7, "email": "ada@example.com"}')
    await page.getByRole('button', { name: 'Send' }).click()
    await page.getByRole('region', { name: 'Reply body' }).getByText('"order": 7').waitFor()
    await page.getByRole('link', { name: /^execution / }).click()
    await page.getByRole('heading', { level: 1, name: /^Execution/ }).waitFor()
    const inspectorUrl = page.url()
    await page.getByRole('region', { name: 'Body' }).getByText('"email": "ada@example.com"').waitFor()
    const headers = page.getByRole('table', { name: 'Headers', exact: true })
    await headers.getByText('content-type').waitFor()
    assert.equal(await headers.getByText('sec-fetch-mode').count(), 0, 'sec-* headers are folded away')
    await page.getByText(/\d+ browser and transport headers/).click()
    await page.getByRole('table', { name: 'Browser and transport headers' }).getByText('sec-fetch-mode').waitFor()
    await page.getByRole('table', { name: 'Query' }).getByText('source').waitFor()
    await screenshot(page, 'inspector-request')
    await atPhoneWidth(phone, inspectorUrl, 'inspector-request', (p) => p.getByRole('region', { name: 'Body' }).waitFor())

    // Logs with their own offsets; the response.
    await page.getByRole('tab', { name: /^Logs/ }).click()
    const offsets = (await page.locator('ol.log .ms').allInnerTexts()).map((text) => Number(text.replace(/[^\d.]/g, '')))
    assert.equal(offsets.length, 2)
    assert.ok((offsets[1] ?? 0) - (offsets[0] ?? 0) >= 25, `each line keeps its own time: ${offsets.join(', ')}`)
    await screenshot(page, 'inspector-logs')
    await page.getByRole('tab', { name: 'Response' }).click()
    await page.getByRole('region', { name: 'Result' }).getByText('"order": 7').waitFor()

    // 2. Copy as curl and run it: the same request reaches the same script.
    await page.getByRole('tab', { name: 'Request' }).click()
    await page.getByRole('button', { name: 'Copy as curl' }).click()
    await page.getByRole('button', { name: 'Copied' }).waitFor()
    const curl = await page.evaluate<string>('navigator.clipboard.readText()')
    assert.match(curl, /^curl -sS -X POST '.*\/exec\/orders\?source=shop'/)
    assert.doesNotMatch(curl, /sec-fetch/)
    const ran = await promisify(execFile)('bash', ['-c', curl], { env: { ...process.env, TOKEN: String(shop.token_local) } })
    assert.deepEqual(JSON.parse(ran.stdout), { order: 7 })

    // 3. Edit and resend: the tester opens prefilled with the recorded request.
    await page.getByRole('link', { name: 'Edit and resend' }).click()
    await page.getByRole('heading', { level: 1, name: 'Webhook tester' }).waitFor()
    await page.getByText(/Prefilled from execution/).waitFor()
    assert.equal(await page.getByLabel('Sub-path').inputValue(), 'orders?source=shop')
    assert.match(await page.getByLabel('Body').inputValue(), /"email": "ada@example.com"/)
    await page.getByLabel('Body').fill('{"order": 8, "customer": "Grace Hopper"}')
    await screenshot(page, 'tester-resend')
    await atPhoneWidth(phone, page.url(), 'tester-resend', (p) => p.getByText(/Prefilled from execution/).waitFor())
    await page.getByRole('button', { name: 'Send' }).click()
    await page.getByRole('region', { name: 'Reply body' }).getByText('"order": 8').waitFor()

    // 4. Search for a body value; the search and a custom time range are in the URL.
    await go(page, 'Executions', 'Executions')
    await page.getByLabel('Search body and headers').fill('grace')
    await page.keyboard.press('Enter')
    await page.waitForURL(/q=grace/)
    await until(async () => (await page.locator('tbody tr').count()) === 1, 'one row')
    await page.getByLabel('Time').selectOption('custom')
    await page.getByLabel('From').fill('2020-01-01T00:00')
    await page.waitForURL(/from=2020-01-01T00%3A00|from=2020-01-01T00:00/)
    await page.reload()
    await page.getByRole('heading', { level: 1, name: 'Executions' }).waitFor()
    assert.equal(await page.getByLabel('Search body and headers').inputValue(), 'grace', 'the search survives a reload')
    assert.equal(await page.getByLabel('From').inputValue(), '2020-01-01T00:00')
    await until(async () => (await page.locator('tbody tr').count()) === 1, 'one row')
    await screenshot(page, 'executions-search')
    await atPhoneWidth(phone, page.url(), 'executions-search', async (p) => {
      await p.locator('tbody tr').first().waitFor()
      // The table stacks: every one of a row's six fields is on the screen.
      const cells = p.locator('tbody tr').first().locator('td')
      assert.equal(await cells.count(), 6)
      for (const cell of await cells.all()) {
        const box = await cell.boundingBox()
        assert.ok(box && box.width > 0 && box.x + box.width <= PHONE.width + 1, `a cell off the screen: ${JSON.stringify(box)}`)
      }
    })

    // 5. An async failure goes from retrying to failed.
    const accepted = await fetch(`${url}/exec`, {
      method: 'POST',
      headers: { authorization: `Bearer ${String(queue.token_local)}`, 'content-type': 'application/json' },
      body: '{"invoice": 42}',
    })
    const { execution_id: failingId } = (await accepted.json()) as { execution_id: string }
    await page.goto(`${url}/ui/executions/${failingId}?tab=Attempts`)
    await page
      .getByText(/^retrying \(attempt 1 of 2, next at/)
      .first()
      .waitFor()
    await screenshot(page, 'execution-retrying')
    // The inspector follows the job until it gave up.
    await page.getByText('failed after 2 attempts').first().waitFor({ timeout: 15_000 })
    await page.goto(`${url}/ui/executions?status=error`)
    await page.getByRole('heading', { level: 1, name: 'Failed executions' }).waitFor()
    await page.getByText('failed after 2 attempts').waitFor()
    await screenshot(page, 'executions-failed')
    await atPhoneWidth(phone, page.url(), 'executions-failed', (p) => p.getByText('failed after 2 attempts').waitFor())
    await atPhoneWidth(phone, `${url}/ui/executions/${failingId}?tab=Attempts`, 'execution-attempts', (p) =>
      p
        .getByRole('list', { name: 'Attempts' })
        .getByText(/Attempt 2:/)
        .waitFor(),
    )

    // 6. Fix the script, bulk-replay what failed.
    const billing = jsonArray(await root.get(`${SCRIPTS}?filter=${encodeURIComponent('{"code":"billing"}')}`))[0]
    await root.patch(`${SCRIPTS}/${String(billing?.id)}`, { source: 'return { billed: startparam(4).invoice }' })
    await page.getByRole('button', { name: 'Replay all 1' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Replay 1' }).click()
    await page.getByText('Replayed 1 execution.').waitFor()
    const replays = jsonArray(
      await root.get(`/rest/v1/service/executions?filter=${encodeURIComponent(`{"replay_of":"${failingId}"}`)}`),
    )
    assert.deepEqual(replays[0]?.output, { result: { billed: 42 } })
    // The replay compares with its original, side by side.
    await page.goto(`${url}/ui/executions/${String(replays[0]?.id)}?tab=Compare`)
    await page.getByRole('region', { name: 'Outcome diff' }).getByText('"billed": 42').waitFor()
    await page.getByRole('region', { name: 'Outcome diff' }).getByText('"error": "ledger down"').waitFor()
    await screenshot(page, 'inspector-compare')
    await atPhoneWidth(phone, page.url(), 'inspector-compare', (p) => p.getByRole('region', { name: 'Outcome diff' }).waitFor())

    // 7. A channel's error rate rises, per channel, with a small chart.
    await go(page, 'Channels', 'Channels')
    const queueRow = page.locator('tbody tr', { hasText: 'queue' })
    // The failed job (one record, two attempts) and its replay.
    await queueRow.getByText(/2 req · 1 err \(50 %\)/).waitFor()
    await page
      .locator('tbody tr', { hasText: 'shop' })
      .getByText(/3 req · 0 err/)
      .waitFor()
    assert.ok((await queueRow.locator('.uplot canvas').count()) >= 1, 'a uPlot chart')
    await screenshot(page, 'channels-traffic')
    await atPhoneWidth(phone, `${url}/ui/channels`, 'channels-traffic', (p) => p.locator('.uplot').first().waitFor())

    // 8. A type error and an unknown name show in the editor while typing, before any save.
    await go(page, 'Scripts', 'Scripts')
    await page.getByRole('link', { name: 'orders' }).click()
    await page.getByRole('heading', { level: 1, name: 'orders' }).waitFor()
    await page.getByLabel('Language').selectOption('ts')
    await page.locator('.cm-content').click()
    await page.keyboard.press('Control+End')
    await page.keyboard.press('Enter')
    // Real key events, one by one.
    await page.keyboard.type('const n: number = "oops"', { delay: 5 })
    await page
      .getByRole('status', { name: 'Live check' })
      .getByText(/Type 'string' is not assignable to type 'number'/)
      .waitFor()
    // Not saved: the server has not seen it.
    await page.locator('.cm-lintRange-warning').first().waitFor()
    await page.keyboard.press('Enter')
    await page.keyboard.type('chargeCard(n)', { delay: 5 })
    await until(
      async () => (await page.locator('.cm-lintRange-warning', { hasText: 'chargeCard' }).count()) > 0,
      'chargeCard marked',
    )
    assert.equal(await page.getByRole('button', { name: 'Save' }).isEnabled(), true, 'nothing saved yet')
    await screenshot(page, 'editor-diagnostics')
    await atPhoneWidth(phone, page.url(), 'script-editor', (p) => p.getByRole('status', { name: 'Live check' }).waitFor())

    // 9. Save it (the server warns), then roll back to the first version.
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByText(/Saved as version 2\. .*It does not type-check: \d+ problem/).waitFor()
    const versions = page.getByRole('region', { name: 'Versions' })
    await versions.getByRole('button', { name: 'Version 1', exact: true }).click()
    await page.getByRole('region', { name: 'Version diff' }).getByText('chargeCard(n)').waitFor()
    await screenshot(page, 'script-versions')
    await versions.getByRole('button', { name: 'Roll back to version 1' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click()
    await versions.getByText(/· current/).waitFor()
    await versions.getByRole('button', { name: 'Version 3', exact: true }).waitFor()
    const rolled = json(await root.get(`${SCRIPTS}/${String(orders.id)}`))
    assert.equal(rolled.version, 3)
    assert.equal(rolled.lang, 'js')
    assert.equal(rolled.source, orders.source)
    assert.doesNotMatch((await page.locator('.cm-content').textContent()) ?? '', /chargeCard/)
    await atPhoneWidth(phone, page.url(), 'script-versions', (p) => p.getByRole('region', { name: 'Versions' }).waitFor())

    // Dark mode follows the system.
    const dark = await browser.newContext({ viewport: DESKTOP, colorScheme: 'dark' })
    const darkPage = await dark.newPage()
    await darkPage.addInitScript(`sessionStorage.setItem('switchboard.key', ${JSON.stringify(ROOT_KEY)})`)
    await darkPage.goto(inspectorUrl)
    await darkPage.getByRole('region', { name: 'Body' }).waitFor()
    const background = await darkPage.evaluate<string>('getComputedStyle(document.documentElement).backgroundColor')
    assert.equal(background, 'rgb(21, 24, 30)', 'the dark palette')
    await screenshot(darkPage, 'inspector-dark')

    assert.deepEqual(errors, [])
  })
})
