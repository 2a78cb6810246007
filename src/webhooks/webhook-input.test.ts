import assert from 'node:assert/strict'
import { it } from 'node:test'
import { headerObject, parseBody, placeToken, queryObject } from './webhook-input.ts'

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
  assert.deepEqual(parseBody(Buffer.from('{"a":[1]}'), 'application/json; charset=utf-8'), { a: [1] })
  assert.deepEqual(parseBody(Buffer.from('{"a":1}'), 'application/vnd.github+json'), { a: 1 })
  assert.deepEqual(parseBody(Buffer.from('a=1&b=%C3%A9'), 'application/x-www-form-urlencoded'), { a: '1', b: 'é' })
  assert.equal(parseBody(Buffer.from('hello'), 'text/plain'), 'hello')
  assert.equal(parseBody(Buffer.from([0, 255]), 'application/octet-stream'), 'AP8=')
  assert.equal(parseBody(Buffer.from([1]), undefined), 'AQ==')
  assert.equal(parseBody(undefined, 'application/json'), null)
  assert.throws(() => parseBody(Buffer.from('{"a":'), 'application/json'), /not valid JSON/)
})
