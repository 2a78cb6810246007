import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { assertError } from './support/assertions.ts'
import { json, SCRIPTS, startServer } from './support/server.ts'

describe('TypeScript scripts are type-checked when saved', () => {
  it('warns in the answer by default, refuses with ?strict=true, and keeps a clean save clean', async (t) => {
    const { root, client } = await startServer(t)
    const broken = 'const n: number = "oops"\nnosuchThing()\nreturn n'
    const saved = await root.post(SCRIPTS, { code: 'typed', lang: 'ts', source: broken })
    assert.equal(saved.status, 200, saved.text)
    assert.deepEqual(json(saved).warnings, [
      { line: 1, column: 7, message: "Type 'string' is not assignable to type 'number'." },
      { line: 2, column: 1, message: "Cannot find name 'nosuchThing'." },
    ])
    const id = String(json(saved).id)
    assert.equal(json(await root.get(`${SCRIPTS}/${id}`)).warnings, undefined, 'warnings are not stored')

    const refused = await root.request('PATCH', `${SCRIPTS}/${id}?strict=true`, { source: 'const s: string = 1\nreturn s' })
    assertError(
      refused,
      400,
      /source does not type-check: line 1, column 7: Type 'number' is not assignable to type 'string'/,
      'source',
    )
    assert.equal(json(await root.get(`${SCRIPTS}/${id}`)).source, broken, 'nothing saved')
    assertError(
      await root.request('POST', `${SCRIPTS}?strict=true`, {
        code: 'typed-2',
        lang: 'ts',
        source: 'return startparam(1).length',
      }),
      400,
      /'unknown'/,
    )

    // The script API is known: a clean source has no warnings, strict or not.
    const clean = 'const order = startparam(1) as { n: number }\nlog.info(String(order.n))\nreturn order.n * 2'
    const fixed = await root.request('PATCH', `${SCRIPTS}/${id}?strict=true`, { source: clean })
    assert.equal(fixed.status, 200, fixed.text)
    assert.equal(json(fixed).warnings, undefined)
    // A change of lang checks the stored source; JavaScript is never type-checked.
    const js = await root.post(SCRIPTS, { code: 'plain', source: 'const n = 1; n = notDefined(); return n' })
    assert.equal(js.status, 200, js.text)
    assert.equal(json(js).warnings, undefined)
    const toTs = await root.patch(`${SCRIPTS}/${String(json(js).id)}`, { lang: 'ts' })
    assert.equal(toTs.status, 200)
    assert.ok((json(toTs).warnings as unknown[]).length >= 1)

    assertError(await root.request('PATCH', `${SCRIPTS}/${id}?strict=yes`, { source: clean }), 400, /strict/)
    assertError(await client().request('PATCH', `${SCRIPTS}/${id}?strict=true`, { source: clean }), 401)
  })
})
