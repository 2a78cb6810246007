import assert from 'node:assert/strict'
import { it } from 'node:test'
import { headerObject, placeToken, queryObject, readBody, restoredInput, scriptBodyJson, storedInput } from './webhook-input.ts'

it('finds the token in the header or the first path segment, and hides it', () => {
  assert.deepEqual(placeToken('/exec', 'Bearer abc'), { token: 'abc', shownPath: '/exec', subPath: '/', fromHeader: true })
  assert.deepEqual(placeToken('/exec/orders/7', 'Bearer abc'), {
    token: 'abc',
    shownPath: '/exec/orders/7',
    subPath: '/orders/7',
    fromHeader: true,
  })
  assert.deepEqual(placeToken('/exec/abc', undefined), { token: 'abc', shownPath: '/exec/~', subPath: '/', fromHeader: false })
  assert.deepEqual(placeToken('/exec/abc/', undefined), { token: 'abc', shownPath: '/exec/~/', subPath: '/', fromHeader: false })
  assert.deepEqual(placeToken('/exec/abc/orders/7', 'Basic x'), {
    token: 'abc',
    shownPath: '/exec/~/orders/7',
    subPath: '/orders/7',
    fromHeader: false,
  })
  assert.deepEqual(placeToken('/exec', undefined), { token: undefined, shownPath: '/exec', subPath: '/', fromHeader: false })
  assert.deepEqual(placeToken('/exec/', 'Bearer'), { token: undefined, shownPath: '/exec/', subPath: '/', fromHeader: false })
})

it('reads queries, headers and bodies as SPEC §5.2 says', () => {
  assert.deepEqual(queryObject('a=1&b=x%20y&a=2&__proto__=z'), { a: ['1', '2'], b: 'x y', ['__proto__']: 'z' })
  assert.deepEqual(headerObject({ authorization: 'Bearer secret', 'x-a': ['1', '2'] }, true), {
    authorization: 'Bearer ~',
    'x-a': '1, 2',
  })
  assert.deepEqual(headerObject({ authorization: 'Basic eDp5' }, false), { authorization: 'Basic eDp5' })
  // The script's view of each kind of body, as JSON text (a JSON body is its own text).
  const seen = (bytes: Uint8Array | undefined, type: string | undefined) => JSON.parse(scriptBodyJson(readBody(bytes, type)))
  assert.deepEqual(seen(Buffer.from('{"a":[1]}'), 'application/json; charset=utf-8'), { a: [1] })
  assert.deepEqual(seen(Buffer.from('{"a":1}'), 'application/vnd.github+json'), { a: 1 })
  assert.deepEqual(seen(Buffer.from('a=1&b=%C3%A9'), 'application/x-www-form-urlencoded'), { a: '1', b: 'é' })
  assert.equal(seen(Buffer.from('hello'), 'text/plain'), 'hello')
  assert.equal(seen(Buffer.from([0, 255]), 'application/octet-stream'), 'AP8=')
  assert.equal(seen(Buffer.from([1]), undefined), 'AQ==')
  assert.equal(seen(undefined, 'application/json'), null)
  assert.throws(() => readBody(Buffer.from(`${'['.repeat(600)}${']'.repeat(600)}`), 'application/json'), /nests/)
})

it('keeps a body readable in records and jobs, and gives the same request back (SPEC §5.6)', () => {
  const base = { method: 'POST', url: '/exec/~', path: '/', query: {}, ip: '127.0.0.1', protocol: 'HTTP/1.1' }
  const cases: [string, Uint8Array, unknown, 'base64' | undefined][] = [
    ['application/json', Buffer.from('{"order":7}'), { order: 7 }, undefined],
    ['application/x-www-form-urlencoded', Buffer.from('a=1&b=2'), 'a=1&b=2', undefined],
    ['text/plain; charset=utf-8', Buffer.from('héllo'), 'héllo', undefined],
    ['application/octet-stream', Buffer.from([0, 1, 254, 255]), 'AAH+/w==', 'base64'],
  ]
  for (const [type, bytes, kept, encoding] of cases) {
    const input = { ...base, headers: { 'content-type': type }, body: readBody(bytes, type) }
    const stored = storedInput(input)
    assert.deepEqual(stored, {
      ...base,
      headers: { 'content-type': type },
      body: kept,
      ...(encoding && { body_encoding: encoding }),
    })
    const again = restoredInput(JSON.parse(JSON.stringify(stored)))
    assert.deepEqual(again.body.kind === 'none' ? undefined : Buffer.from(again.body.bytes), Buffer.from(bytes), type)
  }
  // A record of an earlier version, with the body only as rawBody.
  const old = restoredInput({
    ...base,
    headers: { 'content-type': 'application/json' },
    body: undefined,
    rawBody: 'eyJhIjoxfQ==',
  })
  assert.deepEqual(old.body.kind === 'json' && old.body.text, '{"a":1}')
})
