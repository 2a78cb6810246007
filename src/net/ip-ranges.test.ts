import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ipRangeProblem, parseIpRanges } from './ip-ranges.ts'

describe('IP ranges', () => {
  it('match IPv4, IPv6 and IPv4-mapped IPv6 senders', () => {
    const ranges = parseIpRanges(['203.0.113.0/24', '2001:db8::1', '10.0.0.7'])
    assert.equal(ranges.has('203.0.113.9'), true)
    assert.equal(ranges.has('::ffff:203.0.113.9'), true)
    assert.equal(ranges.has('::FFFF:10.0.0.7'), true)
    assert.equal(ranges.has('203.0.114.1'), false)
    assert.equal(ranges.has('2001:db8::1'), true)
    assert.equal(ranges.has('2001:db8::2'), false)
    assert.equal(ranges.has('garbage'), false)
  })

  it('explain what is wrong with an entry', () => {
    assert.equal(ipRangeProblem('192.0.2.0/24'), undefined)
    assert.equal(ipRangeProblem('::/0'), undefined)
    assert.match(ipRangeProblem('192.0.2.0/33') ?? '', /prefix length \(0-32\)/)
    assert.match(ipRangeProblem('2001:db8::/129') ?? '', /0-128/)
    assert.match(ipRangeProblem('192.0.2.0/x') ?? '', /prefix length/)
    assert.match(ipRangeProblem('example.com') ?? '', /not an IPv4\/IPv6 address/)
    assert.throws(() => parseIpRanges(['nope']), /not an IPv4/)
  })
})
