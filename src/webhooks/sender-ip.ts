import { isIP } from 'node:net'
import type { IpRanges } from '../net/ip-ranges.ts'
import { unmapIpv4 } from '../net/ip-ranges.ts'

/**
 * The sender's address: the socket's peer, unless that peer is a trusted proxy
 * (`SWITCHBOARD_TRUST_PROXY`); then `X-Forwarded-For` is read from the right, skipping the
 * trusted proxies, and the first other address is the sender. An entry that is not an address
 * ends the walk: what lies left of it cannot be believed. IPv4-mapped IPv6 addresses are given in
 * their IPv4 form.
 */
export function senderIp(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: IpRanges): string {
  let sender = unmapIpv4(peer ?? '')
  if (trusted.size === 0 || forwardedFor === undefined || !trusted.has(sender)) return sender
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmapIpv4(stripPort((hops[i] as string).trim()))
    if (isIP(hop) === 0) break
    sender = hop
    if (!trusted.has(hop)) break
  }
  return sender
}

/** `[2001:db8::1]:443` → `2001:db8::1`; `203.0.113.9:80` → `203.0.113.9`. */
function stripPort(hop: string): string {
  if (hop.startsWith('[')) {
    const end = hop.indexOf(']')
    return end === -1 ? hop : hop.slice(1, end)
  }
  const colon = hop.indexOf(':')
  return colon !== -1 && colon === hop.lastIndexOf(':') ? hop.slice(0, colon) : hop
}
