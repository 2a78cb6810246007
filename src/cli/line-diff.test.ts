import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { unifiedDiff } from './line-diff.ts'

const names = { oldName: 'a/x.js', newName: 'b/x.js' }

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    assert.equal(unifiedDiff('a\nb\n', 'a\nb\n', names), '')
  })

  it('shows a change with three lines of context, as diff -u does', () => {
    const before = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].join('\n')
    const after = ['1', '2', '3', '4', 'five', '6', '7', '8', '9'].join('\n')
    assert.equal(
      unifiedDiff(`${before}\n`, `${after}\n`, names),
      ['--- a/x.js', '+++ b/x.js', '@@ -2,7 +2,7 @@', ' 2', ' 3', ' 4', '-5', '+five', ' 6', ' 7', ' 8', ''].join('\n'),
    )
  })

  it('splits distant changes into hunks and joins near ones', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`)
    const changed = [...lines]
    changed[1] = 'second'
    changed[17] = 'eighteenth'
    const diff = unifiedDiff(`${lines.join('\n')}\n`, `${changed.join('\n')}\n`, names)
    assert.deepEqual(
      diff.split('\n').filter((line) => line.startsWith('@@')),
      ['@@ -1,5 +1,5 @@', '@@ -15,6 +15,6 @@'],
    )
    const near = [...lines]
    near[1] = 'second'
    near[7] = 'eighth'
    assert.deepEqual(
      unifiedDiff(`${lines.join('\n')}\n`, `${near.join('\n')}\n`, names)
        .split('\n')
        .filter((line) => line.startsWith('@@')),
      ['@@ -1,11 +1,11 @@'],
    )
  })

  it('diffs against nothing, and marks a missing final newline', () => {
    assert.equal(
      unifiedDiff('', 'one\ntwo\n', names),
      ['--- a/x.js', '+++ b/x.js', '@@ -0,0 +1,2 @@', '+one', '+two', ''].join('\n'),
    )
    assert.equal(unifiedDiff('one\n', '', names), ['--- a/x.js', '+++ b/x.js', '@@ -1 +0,0 @@', '-one', ''].join('\n'))
    assert.equal(
      unifiedDiff('return 1\n', 'return 1', names),
      ['--- a/x.js', '+++ b/x.js', '@@ -1 +1 @@', '-return 1', '+return 1', '\\ No newline at end of file', ''].join('\n'),
    )
  })

  it('finds the shortest edit for inserted and removed blocks', () => {
    const diff = unifiedDiff('a\nb\nc\nd\n', 'a\nx\ny\nc\nd\ne\n', names)
    assert.equal(diff, ['--- a/x.js', '+++ b/x.js', '@@ -1,4 +1,6 @@', ' a', '-b', '+x', '+y', ' c', ' d', '+e', ''].join('\n'))
  })
})
