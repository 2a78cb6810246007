import assert from 'node:assert/strict'
import { it } from 'node:test'
import { parseIpRanges } from '../net/ip-ranges.ts'
import { senderIp } from './sender-ip.ts'

it('believes X-Forwarded-For only from trusted proxies, from the right', () => {
  const none = parseIpRanges([])
  const proxies = parseIpRanges(['10.0.0.0/8', 'fd00::/8'])
  assert.equal(senderIp('::ffff:203.0.113.9', undefined, none), '203.0.113.9')
  assert.equal(senderIp('203.0.113.9', '198.51.100.1', none), '203.0.113.9', 'no trusted proxies: the header is ignored')
  assert.equal(senderIp('203.0.113.9', '198.51.100.1', proxies), '203.0.113.9', 'an untrusted peer: the header is ignored')
  assert.equal(senderIp('10.1.2.3', '198.51.100.1', proxies), '198.51.100.1')
  assert.equal(
    senderIp('::ffff:10.1.2.3', '6.6.6.6, 198.51.100.1, 10.9.9.9', proxies),
    '198.51.100.1',
    'spoofed left part skipped',
  )
  assert.equal(senderIp('fd00::1', '2001:db8::7', proxies), '2001:db8::7')
  assert.equal(senderIp('10.1.2.3', '::ffff:198.51.100.1', proxies), '198.51.100.1')
  assert.equal(senderIp('10.1.2.3', '[2001:db8::7]:443', proxies), '2001:db8::7')
  assert.equal(senderIp('10.1.2.3', '198.51.100.1:8080', proxies), '198.51.100.1')
  assert.equal(senderIp('10.1.2.3', 'garbage, 198.51.100.1', proxies), '198.51.100.1')
  assert.equal(senderIp('10.1.2.3', '198.51.100.1, garbage', proxies), '10.1.2.3', 'an invalid hop ends the walk')
  assert.equal(senderIp('10.1.2.3', '10.4.4.4', proxies), '10.4.4.4', 'only proxies: the leftmost one')
  assert.equal(senderIp('10.1.2.3', ['1.1.1.1', '2.2.2.2'], proxies), '2.2.2.2', 'repeated headers read as one list')
})
