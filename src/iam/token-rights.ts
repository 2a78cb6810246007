import type { Channel } from '../channels/channel-schemas.ts'
import type { KeyRing } from './key-ring.ts'
import { ALL_RIGHTS, type CompiledPermission, NO_RIGHTS, type Rights, rightsOf } from './permissions.ts'
import type { RoleDirectory } from './role-directory.ts'
import { ADMIN_ROLE } from './roles.ts'

/** The part of a channel its token's rights come from. */
export type RightsHolder = Pick<Channel, 'opts'>

export interface AccessRightsDeps {
  readonly roles: RoleDirectory
  readonly users: KeyRing
  /** REST path of each domain collection by name (`integration_points` → `/rest/v1/service/integration_points`). */
  readonly collectionPaths: ReadonlyMap<string, string>
}

/**
 * Who may do what in a domain (SPEC §10), from the in-memory roles and users: no store read.
 * Rights are computed on each call, so a changed role or user applies to the very next check.
 *
 * A token's rights are the permissions of its channel's `opts.roles` plus those of the roles of
 * its `opts.userid` user; the built-in `admin` among them allows everything in the domain. A user
 * of another domain gives nothing: rights never leave their domain.
 */
export class AccessRights {
  readonly #deps: AccessRightsDeps

  constructor(deps: AccessRightsDeps) {
    this.#deps = deps
  }

  /** The rights of role codes in a domain. */
  ofRoles(domainId: string, codes: readonly string[]): Rights {
    if (codes.includes(ADMIN_ROLE)) return ALL_RIGHTS
    const permissions: CompiledPermission[] = []
    for (const code of codes) permissions.push(...this.#deps.roles.permissions(domainId, code))
    return rightsOf(permissions)
  }

  /** A user's rights in `domainId`: none unless the user exists and belongs to that domain. */
  ofUser(domainId: string, userId: string | null): Rights {
    if (userId === null) return NO_RIGHTS
    const user = this.#deps.users.user(userId)
    if (!user || user.domainId !== domainId) return NO_RIGHTS
    return this.ofRoles(domainId, user.roles)
  }

  /** A channel token's rights: `opts.roles` plus the roles of `opts.userid`. */
  ofChannel(domainId: string, channel: RightsHolder): Rights {
    const user = channel.opts.userid === null ? undefined : this.#deps.users.user(channel.opts.userid)
    const userRoles = user && user.domainId === domainId ? user.roles : []
    return this.ofRoles(domainId, [...channel.opts.roles, ...userRoles])
  }

  /**
   * The user whose rights a channel's token acts with besides its own roles (`opts.userid`), or
   * undefined when it names none, or a user that does not exist in `domainId`.
   */
  channelUser(domainId: string, channel: RightsHolder): string | undefined {
    const userId = channel.opts.userid
    if (userId === null) return undefined
    return this.#deps.users.user(userId)?.domainId === domainId ? userId : undefined
  }

  /** May this channel's token do `method` on the REST path `path` (no query string)? */
  channelMay(domainId: string, channel: RightsHolder, method: string, path: string): boolean {
    return this.ofChannel(domainId, channel).allows(method, path)
  }

  /** May this channel's token use websocket capability `capability` (a `/ws#<capability>` permission)? */
  channelMayUse(domainId: string, channel: RightsHolder, capability: string): boolean {
    return this.ofChannel(domainId, channel).allowsCapability(capability)
  }

  /** May user `userId` read collection `collection` (by name: GET on its REST path)? */
  userMayRead(domainId: string, userId: string | null, collection: string): boolean {
    const path = this.#deps.collectionPaths.get(collection)
    return path !== undefined && this.ofUser(domainId, userId).allows('GET', path)
  }

  /** May this channel's token read collection `collection` (by name: GET on its REST path)? */
  channelMayRead(domainId: string, channel: RightsHolder, collection: string): boolean {
    const path = this.#deps.collectionPaths.get(collection)
    return path !== undefined && this.channelMay(domainId, channel, 'GET', path)
  }
}
