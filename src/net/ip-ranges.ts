import { BlockList, isIP } from 'node:net'

/**
 * A list of IPv4/IPv6 addresses and CIDR ranges (channel `ipmask`, trusted proxies,
 * egress allow list). IPv4-mapped IPv6 addresses (`::ffff:203.0.113.9`) match their
 * IPv4 form, so a dual-stack listener does not bypass an IPv4 mask.
 */
export interface IpRanges {
  readonly size: number
  has(address: string): boolean
}

/** Why `entry` is not an address or CIDR range, or undefined when it is one. */
export function ipRangeProblem(entry: string): string | undefined {
  const slash = entry.indexOf('/')
  const address = slash === -1 ? entry : entry.slice(0, slash)
  const family = isIP(address)
  if (family === 0) return `'${entry}' is not an IPv4/IPv6 address or CIDR range`
  if (slash === -1) return undefined
  const bitsText = entry.slice(slash + 1)
  const max = family === 4 ? 32 : 128
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) {
    return `'${entry}' has an invalid prefix length (0-${max})`
  }
  return undefined
}

export function parseIpRanges(entries: readonly string[]): IpRanges {
  const list = new BlockList()
  for (const entry of entries) {
    const problem = ipRangeProblem(entry)
    if (problem) throw new Error(problem)
    const slash = entry.indexOf('/')
    const address = slash === -1 ? entry : entry.slice(0, slash)
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6'
    if (slash === -1) list.addAddress(address, type)
    else list.addSubnet(address, Number(entry.slice(slash + 1)), type)
  }
  const size = entries.length
  return {
    size,
    has(raw) {
      const address = unmapIpv4(raw)
      const family = isIP(address)
      if (family === 0) return false
      return list.check(address, family === 4 ? 'ipv4' : 'ipv6')
    },
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; anything else unchanged. */
export function unmapIpv4(address: string): string {
  if (address.length > 7 && address.slice(0, 7).toLowerCase() === '::ffff:' && isIP(address.slice(7)) === 4) {
    return address.slice(7)
  }
  return address
}
