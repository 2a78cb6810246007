import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { sign as githubSign } from '@octokit/webhooks-methods'
import type { Locator, Page } from 'playwright-core'
import WebSocket from 'ws'
import { launchBrowser, openPage, overflow, screenshot } from './support/browser.ts'
import { capabilityRole } from './support/iam.ts'
import { API_KEYS, CHANNELS, json, jsonArray, ROOT_KEY, SCRIPTS, startServer, USERS } from './support/server.ts'

const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
const ROLES = '/rest/v1/iam/roles'

/** Replaces the CodeMirror document with `text`, as if typed without auto-closing brackets. */
async function setSource(page: Page, text: string): Promise<void> {
  await page.locator('.cm-content').click()
  await page.keyboard.press('Control+A')
  await page.keyboard.insertText(text)
}

async function go(page: Page, link: string, heading: string | RegExp): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: link, exact: true }).click()
  await page.getByRole('heading', { level: 1, name: heading }).waitFor()
}

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/ui/`)
  await page.getByLabel('API key').fill(ROOT_KEY)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { level: 1, name: 'Channels' }).waitFor()
}

/** Waits until the input `field` holds `want` (the page renders a change a moment after the event). */
async function valueIs(page: Page, field: Locator, want: string): Promise<void> {
  const id = JSON.stringify(await field.getAttribute('id'))
  await page.waitForFunction(`document.getElementById(${id})?.value === ${JSON.stringify(want)}`)
}

/** The text of each row of the page's table. */
async function rows(page: Page): Promise<string[]> {
  return (await page.locator('tbody tr').allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim())
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
    await page.getByLabel('startparam(4)').fill('{"qty": 5}')
    await page.getByRole('button', { name: 'Run', exact: true }).click()
    await page.getByRole('region', { name: 'Result' }).getByText('"total": 10').waitFor()
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
    // New channels are async unless asked, as in the API and the CLI.
    assert.equal(await page.getByLabel("Sync webhooks (wait for the script's answer)").isChecked(), false)
    await page.getByLabel("Sync webhooks (wait for the script's answer)").check()
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
    await page.getByText(/^Saved as version \d+\. The next execution uses it\./).waitFor()
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
    await page.getByText(/^Saved as version \d+\. The next execution uses it\./).waitFor()
    await page.goto(failedUrl)
    await page.getByRole('button', { name: 'Replay' }).click()
    await page.getByRole('term').getByText('Replay of').waitFor()
    await page.getByRole('tab', { name: 'Response' }).click()
    await page.getByRole('region', { name: 'Result' }).getByText('"fixed": true').waitFor()
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
    await page.getByRole('cell', { name: 'ann', exact: true }).waitFor()
    await page.getByLabel('Name of the new key for ann').fill('ann’s deploy script')
    await page.getByRole('button', { name: 'New key' }).click()
    await page.getByText(/It is shown only now/).waitFor()
    await page.getByText(/ann’s deploy script · made .* · last used never/).waitFor()
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
    const subscriber = await capabilityRole(root, ['subscr'])
    await root.post(CHANNELS, { code: 'watch', type: 'eventing', opts: { filter_capabilities: ['subscr'], roles: [subscriber] } })
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

  it('defines a role with permissions, gives it to a user, and shows those changes in the audit log', async (t) => {
    const { url, root, client } = await startServer(t)
    // Bob, an admin with a key of his own, makes a change as a user.
    const bob = json(await root.post(USERS, { login: 'bob', roles: ['admin'] }))
    const bobKey = String(json(await root.post(API_KEYS, { userid: bob.id, name: 'laptop' })).key)
    assert.equal((await client(bobKey).post(SCRIPTS, { code: 'hello', source: 'return 1' })).status, 200)
    const scratch = json(await root.post(ROLES, { code: 'scratch', permissions: [] }))
    const browser = await launchBrowser(t)
    const { page, errors, failed } = await openPage(browser, DESKTOP)
    page.setDefaultTimeout(15_000)
    await signIn(page, url)

    // The built-in admin is listed, read-only, with the domain's own roles.
    await go(page, 'Roles', 'Roles')
    await page.getByRole('link', { name: 'scratch' }).waitFor()
    assert.deepEqual(await rows(page), ['admin built in everything in the domain (read-only)', 'scratch none: allows nothing'])

    // A new role: the API's problem with a route shows at that route; methods follow the route's kind.
    await page.getByRole('link', { name: 'New role' }).click()
    await page.getByLabel('Code', { exact: true }).fill('operator')
    await page.getByLabel('Name', { exact: true }).fill('Reads the service, runs scripts')
    const first = page.getByRole('group', { name: 'Permission 1' })
    await first.getByLabel('Route').fill('rest/v1/service/*')
    await page.getByRole('button', { name: 'Create role' }).click()
    await first.getByText('must be a path starting with / (or /ws#<capability>)').waitFor()
    assert.equal(await first.getByLabel('Route').getAttribute('aria-invalid'), 'true')
    await first.getByLabel('Route').fill('/rest/v1/service/*')
    await page.getByRole('button', { name: 'Add a permission' }).click()
    const second = page.getByRole('group', { name: 'Permission 2' })
    await second.getByLabel('Route').fill('/rest/v1/service/svcscripts/*/run')
    await second.getByLabel('GET').uncheck()
    await second.getByLabel('POST').check()
    await page.getByRole('button', { name: 'Add a permission' }).click()
    const third = page.getByRole('group', { name: 'Permission 3' })
    await third.getByLabel('Route').fill('/ws#subscr')
    await third.getByLabel('WEBSOCKET').waitFor()
    assert.equal(await third.getByLabel('GET').count(), 0, 'a capability offers WEBSOCKET, not HTTP verbs')
    await page.getByRole('button', { name: 'Create role' }).click()
    await third.getByText('choose at least one method').waitFor()
    await third.getByLabel('WEBSOCKET').check()
    await page.getByRole('button', { name: 'Create role' }).click()
    await page.getByRole('heading', { level: 1, name: 'operator' }).waitFor()
    await screenshot(page, 'role')
    const [operator] = jsonArray(await root.get(`${ROLES}?filter=${encodeURIComponent('{"code":"operator"}')}`))
    assert.deepEqual(operator?.permissions, [
      { route: '/rest/v1/service/*', methods: ['GET'] },
      { route: '/rest/v1/service/svcscripts/*/run', methods: ['POST'] },
      { route: '/ws#subscr', methods: ['WEBSOCKET'] },
    ])

    // Deleting a role asks first.
    await page.getByRole('link', { name: 'Roles', exact: true }).first().click()
    await page.getByRole('link', { name: 'scratch' }).click()
    await page.getByRole('heading', { level: 1, name: 'scratch' }).waitFor()
    await page.getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('dialog', { name: 'Delete role scratch?' }).getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('heading', { level: 1, name: 'Roles' }).waitFor()
    await page.getByRole('link', { name: 'operator' }).waitFor()
    assert.equal((await root.get(`${ROLES}/${String(scratch.id)}`)).status, 404)
    assert.deepEqual(await rows(page), [
      'admin built in everything in the domain (read-only)',
      'operator Reads the service, runs scripts GET /rest/v1/service/* POST /rest/v1/service/svcscripts/*/run WEBSOCKET /ws#subscr',
    ])
    await screenshot(page, 'roles')

    // A user gets it: the known role codes are offered, the change is a PATCH of the user's roles.
    await go(page, 'Users & keys', 'Users & keys')
    await page.getByLabel('Login').fill('ann')
    await page.getByRole('button', { name: 'Add user' }).click()
    await page.getByRole('cell', { name: 'ann', exact: true }).waitFor()
    await page.getByRole('button', { name: 'Edit the roles of ann' }).click()
    const editor = page.getByRole('group', { name: 'Roles of ann' })
    // The focus moves into the editor, to its first box.
    const firstBox = await editor.getByLabel('admin').getAttribute('id')
    await page.waitForFunction(`document.activeElement?.id === ${JSON.stringify(firstBox)}`)
    await editor.getByLabel('admin').uncheck()
    await editor.getByLabel('operator').check()
    await page.getByRole('button', { name: 'Save roles' }).click()
    await page.getByRole('row', { name: /^ann operator/ }).waitFor()
    const [ann] = jsonArray(await root.get(`${USERS}?filter=${encodeURIComponent('{"login":"ann"}')}`))
    assert.deepEqual(ann?.roles, ['operator'])

    // A role someone holds is not deleted: the server's reason, in words.
    await go(page, 'Roles', 'Roles')
    await page.getByRole('link', { name: 'operator' }).click()
    await page.getByRole('button', { name: 'Delete' }).click()
    await page.getByRole('dialog', { name: 'Delete role operator?' }).getByRole('button', { name: 'Delete' }).click()
    await page.getByText("Role 'operator' is held by user ann; take it from them first").waitFor()

    // The audit log, newest first: who (logins, not ids), what (linking to the entity), which fields.
    await go(page, 'Audit log', 'Audit log')
    await page.getByText('1–8 of 8').waitFor()
    const log = await rows(page)
    // Readable rows: what it is, and the values before and after (a create: what it was given).
    assert.match(log[0] ?? '', /root key update User ann history roles: \["admin"\] → \["operator"\]$/)
    assert.match(log[1] ?? '', /root key create User ann history login: "ann" roles: \["admin"\]$/)
    assert.match(log[2] ?? '', /root key delete Role \S+ history —$/, 'a deleted role is shown by id')
    assert.match(log[3] ?? '', /root key create Role operator history code: "operator" .*permissions: /)
    assert.match(log[5] ?? '', /user bob key laptop create Script hello history /)
    await screenshot(page, 'audit')
    await page.getByLabel('Who').selectOption('user')
    await page.waitForURL(/actor=user/)
    await page.getByText('1–1 of 1').waitFor()
    await page.getByRole('link', { name: 'hello' }).click()
    await page.getByRole('heading', { level: 1, name: 'hello' }).waitFor()
    await page.getByRole('link', { name: 'History' }).click()
    await page.waitForURL(/entity=/)
    await page.getByText('1–1 of 1').waitFor()
    await go(page, 'Audit log', 'Audit log')
    await page.getByLabel('Collection').selectOption('roles')
    await page.getByText('1–3 of 3').waitFor()
    await page.getByRole('button', { name: 'All changes of operator' }).click()
    await page.getByText('1–1 of 1').waitFor()
    assert.match((await rows(page))[0] ?? '', /create Role operator/)

    assert.deepEqual(errors, [], 'no console errors')
    assert.deepEqual(
      failed,
      ['400 POST /rest/v1/iam/roles', `409 DELETE /rest/v1/iam/roles/${String(operator?.id)}`],
      'the only failed requests are the ones the test provoked',
    )
  })

  it('uploads, lists, downloads, replaces and deletes a file through a channel that allows the files API', async (t) => {
    const { url, root } = await startServer(t)
    const browser = await launchBrowser(t)
    const { page, errors, failed } = await openPage(browser, DESKTOP)
    page.setDefaultTimeout(15_000)
    await signIn(page, url)

    // Without a channel that allows the files API, the page says how to allow one.
    await go(page, 'Files', 'Files')
    await page.getByText('no channel allows it yet').waitFor()
    await page.getByRole('link', { name: 'Choose a channel' }).waitFor()
    const drop = json(await root.post(CHANNELS, { code: 'drop', type: 'public', opts: { allow_files_api: true } }))
    const token = String(drop.token_local)
    await page.reload()
    await page.getByText('No files yet.').waitFor()

    // Upload: the path starts as the file's name in the folder shown, and may be changed.
    const bytes = Buffer.from('region,total\nnorth,7\nsouth,\u00e9\u00e8\n\u0000\u00ff', 'latin1')
    await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'q4.csv', mimeType: 'text/csv', buffer: bytes })
    await valueIs(page, page.getByLabel('Path'), 'q4.csv')
    await page.getByLabel('Path').fill('reports/2026/q4.csv')
    await page.getByRole('button', { name: 'Upload', exact: true }).click()
    await page.getByText(`Uploaded reports/2026/q4.csv (${bytes.length} B).`).waitFor()
    await page.getByRole('button', { name: 'reports/' }).click()
    await page.waitForURL(/prefix=reports%2F/)
    await page.getByRole('button', { name: '2026/' }).click()
    await page.getByRole('cell', { name: 'q4.csv', exact: true }).waitFor()
    assert.match((await rows(page))[0] ?? '', new RegExp(`^q4\\.csv ${bytes.length} B text/csv \\d+ s ago Download Delete$`))
    await page
      .getByLabel('File', { exact: true })
      .setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') })
    await valueIs(page, page.getByLabel('Path'), 'reports/2026/notes.txt')
    await page.getByRole('button', { name: 'Upload', exact: true }).click()
    await page.getByRole('cell', { name: 'notes.txt', exact: true }).waitFor()
    await screenshot(page, 'files')

    // Download: the bytes as stored, by a link to memory: the token is in no URL.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download reports/2026/q4.csv' }).click(),
    ])
    assert.equal(download.suggestedFilename(), 'q4.csv')
    assert.match(download.url(), /^blob:/)
    assert.deepEqual(await readFile(await download.path()), bytes)
    assert.ok(!page.url().includes(token), 'the token is not in the address')

    // Uploading to a taken path asks before replacing.
    await page
      .getByLabel('File', { exact: true })
      .setInputFiles({ name: 'q4.csv', mimeType: 'text/csv', buffer: Buffer.from('v2') })
    await page.getByRole('button', { name: 'Upload', exact: true }).click()
    await page.getByRole('dialog', { name: 'Replace reports/2026/q4.csv?' }).getByRole('button', { name: 'Replace' }).click()
    await page.getByText('Replaced reports/2026/q4.csv (2 B).').waitFor()
    const stored = await fetch(`${url}/files/reports/2026/q4.csv`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(await stored.text(), 'v2')

    // Delete, after a question.
    await page.getByRole('button', { name: 'Delete reports/2026/q4.csv' }).click()
    await page.getByRole('dialog', { name: 'Delete reports/2026/q4.csv?' }).getByRole('button', { name: 'Delete' }).click()
    await page.getByText('Deleted reports/2026/q4.csv.').waitFor()
    await page.getByRole('cell', { name: 'q4.csv', exact: true }).waitFor({ state: 'detached' })
    const left = await rows(page)
    assert.equal(left.length, 1)
    assert.match(left[0] ?? '', /^notes\.txt 2 B text\/plain \d+ s ago Download Delete$/)
    const gone = await fetch(`${url}/files/reports/2026/q4.csv`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(gone.status, 404)
    assert.equal(((await gone.json()) as { error_code: number }).error_code, 1404)

    // The audit log names the channel whose token made the changes.
    await go(page, 'Audit log', 'Audit log')
    await page.getByLabel('Collection').selectOption('files')
    await page.getByText('1–4 of 4').waitFor()
    const log = await rows(page)
    assert.match(log[0] ?? '', /channel drop delete File reports\/2026\/q4\.csv history —$/)
    assert.match(log[1] ?? '', /channel drop update File reports\/2026\/q4\.csv history content$/)
    assert.match(log[2] ?? '', /channel drop create File reports\/2026\/notes\.txt history content$/)
    assert.match(log[3] ?? '', /channel drop create File reports\/2026\/q4\.csv history content$/)
    await page.getByRole('link', { name: 'reports/2026/notes.txt' }).click()
    await page.getByRole('cell', { name: 'notes.txt', exact: true }).waitFor()

    assert.deepEqual(errors, [], 'no console errors')
    assert.deepEqual(failed, [], 'no request failed')
  })

  it("keeps a webhook reply with inline script from reading the console's storage", async (t) => {
    const { url, root } = await startServer(t)
    // A domain's script author answers a webhook with a page that would read the console's key.
    const page = `<!doctype html><title>reply</title>
<script>document.title = 'read: ' + sessionStorage.getItem('switchboard.key')</script>`
    await root.post(SCRIPTS, {
      code: 'page',
      source: `vars.headers = { 'Content-Type': 'text/html; charset=utf-8' }\nreturn ${JSON.stringify(page)}`,
    })
    const channel = json(
      await root.post(CHANNELS, { code: 'page', type: 'public', recv_svcscriptcode: 'page', opts: { issync: true } }),
    )
    const browser = await launchBrowser(t)
    const { page: tab } = await openPage(browser, DESKTOP)
    tab.setDefaultTimeout(15_000)
    await signIn(tab, url)
    const readStorage = () =>
      tab.evaluate(() => {
        try {
          return `read: ${sessionStorage.getItem('switchboard.key')}`
        } catch (error) {
          return (error as Error).name
        }
      })
    assert.equal(await readStorage(), `read: ${ROOT_KEY}`, 'the console keeps its key in this tab')

    // The root operator opens the reply in the same tab, on the same origin.
    const reply = await tab.goto(`${url}/exec/${String(channel.token_local)}`)
    assert.equal(reply?.headers()['content-type'], 'text/html; charset=utf-8')
    assert.equal(await tab.locator('script').count(), 1, 'the reply is the page the script sent')
    assert.equal(await tab.title(), 'reply', 'its inline script did not run')
    // The page has an origin of its own (CSP sandbox): the console's storage is out of reach.
    assert.equal(await readStorage(), 'SecurityError')

    await tab.goto(`${url}/ui/`)
    assert.equal(await readStorage(), `read: ${ROOT_KEY}`, 'the console still holds its key')
  })

  it("sets a channel's signature check with the scheme picker; the saved secret is masked and kept", async (t) => {
    const { url, root } = await startServer(t)
    await root.post(SCRIPTS, { code: 'hook', source: 'return { verified: request.verified ?? null }' })
    const channel = json(
      await root.post(CHANNELS, { code: 'github-in', type: 'public', recv_svcscriptcode: 'hook', opts: { issync: true } }),
    )
    const browser = await launchBrowser(t)
    const { page, errors, failed } = await openPage(browser, DESKTOP)
    page.setDefaultTimeout(15_000)
    await signIn(page, url)
    await page.goto(`${url}/ui/channels/${String(channel.id)}`)
    const section = page.getByRole('group', { name: 'Verify signatures' })
    await section.getByLabel('Signature scheme').selectOption('github')
    // GitHub signs no timestamp: no tolerance to set; an HMAC scheme asks for its header.
    assert.equal(await section.getByLabel('Timestamp tolerance (seconds)').count(), 0)
    const secret = 'a-github-webhook-secret-of-some-length'
    await section.getByLabel('Signing secret').fill(secret)
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.getByText('Saved.').waitFor()
    await screenshot(page, 'verify-signatures')

    const stored = json(await root.get(`${CHANNELS}/${String(channel.id)}`)).opts as { verify: unknown }
    assert.deepEqual(stored.verify, { scheme: 'github', secrets: ['a-gith…ngth'] })
    const send = async (signature?: string) =>
      fetch(`${url}/exec/${String(channel.token_local)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(signature && { 'x-hub-signature-256': signature }) },
        body: '{"zen":"Keep it logically awesome."}',
      })
    assert.equal((await send(await githubSign(secret, '{"zen":"Keep it logically awesome."}'))).status, 200)
    assert.equal((await send()).status, 401)

    // The form shows the mask; saving it unchanged (with another title) keeps the secret.
    await page.reload()
    await valueIs(page, section.getByLabel('Signing secret'), 'a-gith…ngth')
    await page.getByLabel('Title').fill('GitHub pushes')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.getByText('Saved.').waitFor()
    assert.equal((await send(await githubSign(secret, '{"zen":"Keep it logically awesome."}'))).status, 200)

    // An HMAC scheme without its header is refused, the field named; "no check" turns it off.
    await section.getByLabel('Signature scheme').selectOption('hmac')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page
      .locator('.field.invalid')
      .getByText(/header/)
      .waitFor()
    await section.getByLabel('Signature scheme').selectOption('')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.getByText('Saved.').waitFor()
    assert.equal((json(await root.get(`${CHANNELS}/${String(channel.id)}`)).opts as { verify?: unknown }).verify, undefined)
    assert.equal((await send()).status, 200)
    assert.deepEqual(errors, [], 'no console errors')
    assert.deepEqual(failed, [`400 PATCH /rest/v1/service/integration_points/${String(channel.id)}`])
  })

  it('lists deliveries by status with their attempts, retries the dead letters, and counts them on the channel page', async (t) => {
    const { url, root } = await startServer(t, { config: { egressAllow: ['127.0.0.1/32'] } })
    let up = false
    const receiver = createServer((request, response) => {
      request.resume()
      request.on('end', () => {
        response.statusCode = up ? 204 : 503
        response.end(up ? '' : 'down for maintenance')
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise((resolve) => receiver.close(resolve)))
    const channel = json(
      await root.post(CHANNELS, {
        code: 'billing',
        type: 'public',
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
        opts: { deliver: { retry_s: [] } },
      }),
    )
    const deliver = async (n: number) =>
      String(
        json(await root.post(`${CHANNELS}/${String(channel.id)}/deliver`, { payload: { n }, event_type: 'invoice.paid' }))
          .delivery_id,
      )
    const ids = [await deliver(1), await deliver(2)]
    const statusOf = async (id: string) => String(json(await root.get(`/rest/v1/service/deliveries/${id}`)).status)
    // Up to 20 s: under the whole suite the retries wait behind the other tests for the CPU.
    const settled = async (id: string, status: string) => {
      for (let i = 0; i < 400 && (await statusOf(id)) !== status; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(await statusOf(id), status)
    }
    for (const id of ids) await settled(id, 'failed')

    const browser = await launchBrowser(t)
    const { page, errors, failed } = await openPage(browser, DESKTOP)
    page.setDefaultTimeout(15_000)
    await signIn(page, url)
    await page.goto(`${url}/ui/channels/${String(channel.id)}`)
    const counts = page.getByRole('region', { name: 'Deliveries' })
    await counts.getByRole('link', { name: 'failed 2' }).waitFor()
    await counts.getByRole('link', { name: 'succeeded 0' }).waitFor()
    await counts.getByRole('link', { name: 'failed 2' }).click()
    await page.getByRole('heading', { level: 1, name: 'Deliveries' }).waitFor()
    assert.match(page.url(), /status=failed/)
    // The list loads after the heading shows.
    await page.locator('tbody tr').nth(1).waitFor()
    assert.equal((await rows(page)).length, 2)
    const [first] = await rows(page)
    assert.match(first ?? '', /failed billing invoice\.paid 1 · last 503 Retry$/)
    await page.locator('tbody tr').first().locator('summary').click()
    await page.locator('tbody tr').first().getByText('down for maintenance').waitFor()
    await page.locator('tbody tr').first().getByText('the receiver answered 503').waitFor()
    await screenshot(page, 'deliveries')

    // The receiver is back: retry the whole dead-letter list, then one more by its own button.
    up = true
    await page.getByRole('button', { name: 'Retry all failed' }).click()
    await page.getByText('2 deliveries due now.').waitFor()
    for (const id of ids) await settled(id, 'succeeded')
    up = false
    const third = await deliver(3)
    await settled(third, 'failed')
    up = true
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.getByRole('button', { name: `Retry delivery ${third}` }).click()
    await page.getByText(`Delivery ${third} is due now.`).waitFor()
    await settled(third, 'succeeded')
    await page.getByLabel('Status').selectOption('succeeded')
    await page.locator('tbody tr').nth(2).waitFor()
    assert.deepEqual(
      (await rows(page)).map((row) => /^\S+ \S+ ago (\w+)/.exec(row)?.[1] ?? row),
      ['succeeded', 'succeeded', 'succeeded'],
    )
    await page.goto(`${url}/ui/channels/${String(channel.id)}`)
    await counts.getByRole('link', { name: 'succeeded 3' }).waitFor()
    await counts.getByRole('link', { name: 'failed 0' }).waitFor()
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
    const files = json(await root.post(CHANNELS, { code: 'phone-files', type: 'public', opts: { allow_files_api: true } }))
    const upload = await fetch(`${url}/files/exports/a-rather-long-folder-name/with-a-file-named-at-length-2026-12-01.csv`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${String(files.token_local)}`, 'content-type': 'text/csv' },
      body: 'a,b\n1,2\n',
    })
    assert.equal(upload.status, 201)
    const role = json(
      await root.post('/rest/v1/iam/roles', {
        code: 'phone-role',
        permissions: [
          { route: '/rest/v1/service/integration_points/*', methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'LOOKUP'] },
          { route: '/ws#*', methods: ['WEBSOCKET'] },
        ],
      }),
    )
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
      ['Deliveries', 'Deliveries'],
      ['Live', 'Live'],
      ['Events', 'Events'],
      ['Webhook tester', 'Webhook tester'],
      ['Files', 'Files'],
      ['Users & keys', 'Users & keys'],
      ['Roles', 'Roles'],
      ['Audit log', 'Audit log'],
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
    await page.goto(`${url}/ui/roles/${String(role.id)}`)
    await page.getByRole('group', { name: 'Permission 2' }).waitFor()
    assert.equal(await overflow(page), 0, 'a role fits')
    await page.goto(`${url}/ui/files?prefix=exports%2Fa-rather-long-folder-name%2F`)
    await page.getByRole('cell', { name: 'with-a-file-named-at-length-2026-12-01.csv', exact: true }).waitFor()
    assert.equal(await overflow(page), 0, 'a folder of files fits')
    await page.goto(`${url}/ui/users`)
    await page.getByLabel('Login').fill('phone-user')
    await page.getByRole('button', { name: 'Add user' }).click()
    await page.getByRole('button', { name: 'Edit the roles of phone-user' }).click()
    await page.getByRole('group', { name: 'Roles of phone-user' }).waitFor()
    assert.equal(await overflow(page), 0, 'the roles editor fits')
    assert.deepEqual(errors, [], 'no console errors')
    assert.deepEqual(failed, [])
  })
})
