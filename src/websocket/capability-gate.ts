import { CAPABILITIES, type Capability, type Channel } from '../channels/channel-schemas.ts'
import type { AccessRights } from '../iam/token-rights.ts'

/**
 * Which websocket capabilities (SPEC §6.4) a channel's token may use. Two keys must both turn:
 * - the channel's `opts.filter_capabilities` lists the capability (or `*`): the channel's own
 *   filter, set by whoever manages the channel;
 * - the token's rights (its `opts.roles` plus the roles of its `opts.userid` user, SPEC §10)
 *   hold a `/ws#<capability>` (or `/ws#*`) permission with method `WEBSOCKET`, or `admin`.
 * So a role permission for a capability counts, and the filter narrows what the rights give,
 * as its name says; neither alone opens a capability. docs/iam.md says why. `files` needs
 * `opts.allow_files_api` too: its links are a door to the files like `/files` (docs/files.md).
 */
export class CapabilityGate {
  readonly #rights: AccessRights

  constructor(rights: AccessRights) {
    this.#rights = rights
  }

  /** Why the channel's token may not use `capability`, in plain words, or undefined when it may. */
  refusal(domainId: string, channel: Channel, capability: string): string | undefined {
    const filter = channel.opts.filter_capabilities
    if (!filter.includes('*') && !filter.includes(capability as Capability)) {
      return `the channel does not allow the '${capability}' capability (opts.filter_capabilities)`
    }
    if (capability === 'files' && !channel.opts.allow_files_api) {
      return 'the channel does not allow the files API (opts.allow_files_api)'
    }
    if (!this.#rights.channelMayUse(domainId, channel, capability)) {
      return (
        `the token's rights do not allow the '${capability}' capability: give the channel (opts.roles) ` +
        `or its opts.userid user a role with /ws#${capability} (method WEBSOCKET)`
      )
    }
    return undefined
  }

  /** The capabilities the channel's token may use now, by name (never `*`). */
  usable(domainId: string, channel: Channel): Capability[] {
    return CAPABILITIES.filter((capability) => this.refusal(domainId, channel, capability) === undefined)
  }
}
