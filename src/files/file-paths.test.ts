import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AppError } from '../errors.ts'
import { filePathFromUrl, normaliseFilePath, normalisePrefix } from './file-paths.ts'

const refused = (fn: () => unknown, why: RegExp) =>
  assert.throws(fn, (error: unknown) => error instanceof AppError && error.status === 400 && why.test(error.message))

describe('file paths (SPEC §9)', () => {
  it('normalises . segments, repeated slashes and Unicode forms', () => {
    assert.equal(filePathFromUrl('reports/2026/q4.csv'), 'reports/2026/q4.csv')
    assert.equal(filePathFromUrl('./a//b/./c'), 'a/b/c')
    assert.equal(filePathFromUrl('na%C3%AFve%20file.txt'), 'naïve file.txt')
    assert.equal(normaliseFilePath('cafe\u0301'), 'caf\u00e9')
    assert.equal(filePathFromUrl('caf%C3%A9'), normaliseFilePath('cafe\u0301'))
    assert.equal(normaliseFilePath('a b/(1)+[x].txt'), 'a b/(1)+[x].txt')
    assert.equal(normaliseFilePath('..hidden/...'), '..hidden/...', 'dots inside a name are a name')
  })

  it('refuses every way out of the space', () => {
    refused(() => filePathFromUrl('../etc/passwd'), /\.\. segments/)
    refused(() => filePathFromUrl('a/../../b'), /\.\. segments/)
    refused(() => filePathFromUrl('%2e%2e/x'), /\.\. segments/)
    refused(() => filePathFromUrl('%2E%2E/x'), /\.\. segments/)
    refused(() => filePathFromUrl('.%2e/x'), /\.\. segments/)
    refused(() => filePathFromUrl('a/%2e%2e'), /\.\. segments/)
    refused(() => filePathFromUrl('%252e%252e/x'), /double-encoded/)
    refused(() => filePathFromUrl('a%2f..%2fb'), /encoded \//)
    refused(() => filePathFromUrl('..%5cb'), /backslash/)
    refused(() => filePathFromUrl('a%255cb'), /double-encoded/)
    refused(() => filePathFromUrl('/etc/passwd'), /relative/)
    refused(() => filePathFromUrl('C:/Windows'), /drive letter/)
    refused(() => filePathFromUrl('a%00.txt'), /NUL/)
    refused(() => filePathFromUrl('a%2500.txt'), /double-encoded/)
    refused(() => filePathFromUrl('a%0a.txt'), /control/)
    refused(() => filePathFromUrl('a%zz'), /malformed percent-encoding/)
    refused(() => normaliseFilePath('a\\b'), /backslash/)
    refused(() => normaliseFilePath('a\u0000b'), /NUL/)
    refused(() => normaliseFilePath('../x'), /\.\. segments/)
  })

  it('refuses empty paths, folders, and names past the length limits', () => {
    refused(() => filePathFromUrl(''), /empty/)
    refused(() => filePathFromUrl('./.'), /names no file/)
    refused(() => filePathFromUrl('reports/'), /cannot end with/)
    refused(() => normaliseFilePath('x'.repeat(256)), /longer than 255/)
    refused(() => normaliseFilePath(Array.from({ length: 300 }, () => 'abcd').join('/')), /longer than 1024/)
    assert.equal(normaliseFilePath('x'.repeat(255)).length, 255)
  })

  it('takes prefixes that end with / or inside a name, checked like paths', () => {
    assert.equal(normalisePrefix(''), '')
    assert.equal(normalisePrefix('reports/'), 'reports/')
    assert.equal(normalisePrefix('reports/20'), 'reports/20')
    assert.equal(normalisePrefix('./a//b/'), 'a/b/')
    refused(() => normalisePrefix('../'), /\.\. segments/)
    refused(() => normalisePrefix('/abs'), /relative/)
    refused(() => normalisePrefix('a\u0000'), /NUL/)
  })
})
