import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns'
import { isIP } from 'node:net'
import { type IpRanges, parseIpRanges, unmapIpv4 } from './ip-ranges.ts'

/**
 * Where script egress may not go unless `SWITCHBOARD_EGRESS_ALLOW` says so: loopback, private,
 * link-local (cloud metadata at 169.254.169.254 and fd00:ec2::254), carrier-grade NAT,
 * multicast, reserved and unspecified addresses, and IPv6 transition prefixes that embed them.
 */
const BLOCKED = parseIpRanges([
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.88.99.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  '64:ff9b::/96',
  '64:ff9b:1::/48',
  '100::/64',
  '2001:db8::/32',
  '2002::/16',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
])

/**
 * IPv6 addresses that embed an IPv4 address, refused whatever that address is (`::127.0.0.1`,
 * `::ffff:0:127.0.0.1`): IPv4-compatible (deprecated; `::` and `::1` are in it), IPv4-mapped
 * (its dotted spelling `::ffff:1.2.3.4` is checked as the IPv4 address it maps; a hex spelling,
 * `::ffff:7f00:1`, is refused here), IPv4-translated (RFC 2765). A list of its own, consulted
 * for IPv6 addresses only: node's BlockList matches every IPv4 address against `::ffff:0:0/96`.
 */
const EMBEDS_IPV4 = parseIpRanges(['::/96', '::ffff:0:0/96', '::ffff:0:0:0/96'])

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/** Decides which addresses scripts may connect to, and resolves names only to those. */
export class EgressGuard {
  readonly #allow: IpRanges

  constructor(allow: readonly string[]) {
    this.#allow = parseIpRanges(allow)
  }

  /** Why `address` may not be reached, or undefined when it may. */
  refusal(address: string): string | undefined {
    const plain = unmapIpv4(address)
    if (this.#allow.has(plain)) return undefined
    if (BLOCKED.has(plain) || (isIP(plain) === 6 && EMBEDS_IPV4.has(plain)))
      return `${address} is a private, loopback or link-local address (SWITCHBOARD_EGRESS_ALLOW can allow it)`
    return undefined
  }

  /**
   * A `lookup` for node:http(s) requests: the name is resolved once, every address it resolves
   * to is checked, and the connection goes to a checked address, so a DNS answer that changes
   * between the check and the connection (rebinding) cannot slip through.
   */
  readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '')
      const list = addresses as LookupAddress[]
      const refused = list.map((entry) => this.refusal(entry.address)).find((reason) => reason !== undefined)
      if (refused || list.length === 0) {
        const failure: NodeJS.ErrnoException = new Error(`${hostname}: ${refused ?? 'no address'}`)
        failure.code = 'EGRESS_REFUSED'
        return callback(failure, '')
      }
      if (options.all) return callback(null, list)
      const [first] = list as [LookupAddress]
      callback(null, first.address, first.family)
    })
  }

  /** For a URL host that is an IP literal (no lookup happens): why it may not be reached. */
  literalRefusal(hostname: string): string | undefined {
    const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
    return isIP(bare) === 0 ? undefined : this.refusal(bare)
  }
}
