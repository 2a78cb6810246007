import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EgressGuard } from './egress.ts'

describe('egress guard', () => {
  it('refuses private, loopback, link-local, metadata and reserved addresses', () => {
    const guard = new EgressGuard([])
    for (const address of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.5',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:10.0.0.1',
      '64:ff9b::a00:1',
      '224.0.0.1',
      '::127.0.0.1',
      '::ffff:0:127.0.0.1',
      '::ffff:7f00:1',
      '::7f00:1',
      '::10.0.0.1',
      '::1.1.1.1',
      '::ffff:0:1.1.1.1',
    ]) {
      assert.match(guard.refusal(address) ?? '', /private, loopback or link-local/, address)
    }
    for (const address of ['93.184.215.14', '1.1.1.1', '::ffff:1.1.1.1', '2606:4700::1111', '172.32.0.1'])
      assert.equal(guard.refusal(address), undefined, address)
  })

  it('lets the allow list through', () => {
    const guard = new EgressGuard(['127.0.0.1/32', '10.1.0.0/16'])
    assert.equal(guard.refusal('127.0.0.1'), undefined)
    assert.equal(guard.refusal('::ffff:127.0.0.1'), undefined)
    assert.equal(guard.refusal('10.1.2.3'), undefined)
    assert.match(guard.refusal('127.0.0.2') ?? '', /private/)
    assert.match(guard.refusal('10.2.0.1') ?? '', /private/)
  })

  it('resolves names and refuses those that point inside', async () => {
    const guard = new EgressGuard([])
    const resolve = (all: boolean) =>
      new Promise<unknown>((done) => guard.lookup('localhost', { all }, (error, address) => done(error ?? address)))
    for (const all of [false, true]) {
      const error = (await resolve(all)) as NodeJS.ErrnoException
      assert.equal(error.code, 'EGRESS_REFUSED')
      assert.match(error.message, /^localhost: .* is a private, loopback or link-local address/)
    }
    const allowed = new EgressGuard(['127.0.0.0/8', '::1/128'])
    const address = await new Promise((done) => allowed.lookup('localhost', {}, (error, found) => done(error ?? found)))
    assert.match(String(address), /^(127\.0\.0\.1|::1)$/)
    assert.match(guard.literalRefusal('[::1]') ?? '', /private/)
    assert.equal(guard.literalRefusal('example.com'), undefined)
  })
})
