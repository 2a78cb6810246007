import type { CallContext, CollectionDef, CollectionRules, WriteContext } from '../collections/collection.ts'
import { AppError, type FieldError, invalidField } from '../errors.ts'
import { assertWithin, rightsOfRoles, rightsOfUser } from '../iam/grants.ts'
import { beyond, type Rights } from '../iam/permissions.ts'
import { unknownRoles } from '../iam/roles.ts'
import { newChannelToken } from '../ids.ts'
import { ipRangeProblem } from '../net/ip-ranges.ts'
import { SCRIPT_FIELDS } from '../scripts/svcscripts-collection.ts'
import type { Doc } from '../store/store.ts'
import {
  type Channel,
  ChannelCreate,
  Channel as ChannelSchema,
  type ChannelType,
  ipMaskEntries,
  urlProblem,
} from './channel-schemas.ts'
import { concealChannel, keptSecrets, WRITE_ONLY_PATHS } from './channel-secrets.ts'
import { deliverSettings } from './deliver-settings.ts'
import type { Licensing } from './licensing.ts'
import { verifyProblems } from './verify-settings.ts'

type Draft = Record<string, unknown>

/** Entries of `ipmask` (the list schema says so too; a comma-separated string is checked here). */
const MAX_IPMASK_ENTRIES = 256
type Opts = Channel['opts']

/**
 * How the checks read what a channel refers to (its type, scripts, user; roles in roles.ts):
 * locked `share` until commit, so that a concurrent delete or rename of it either waits for this
 * write and then sees the reference, or goes first and this check finds it gone.
 */
const KEEP = { lock: 'share' } as const

/** The fields a solution-defined type fixes, as [channel path, channel-type field]. */
const LOCKED_FIELDS = [
  ...SCRIPT_FIELDS.map((field) => [[field], field] as const),
  [['url'], 'url'],
  [['opts', 'issync'], 'issync'],
  [['opts', 'recv_timeout'], 'recv_timeout'],
] as const satisfies ReadonlyArray<readonly [readonly string[], keyof ChannelType]>

function complete(draft: Draft, token: string): Channel {
  const opts = (draft.opts ?? {}) as Partial<Opts>
  return {
    id: draft.id as string,
    code: draft.code as string,
    type: draft.type as string,
    token_local: token,
    token_remote: (draft.token_remote as string | undefined) ?? '',
    token_remote2: (draft.token_remote2 as string | undefined) ?? '',
    ipmask: ipMaskEntries(draft.ipmask as string[] | string | undefined),
    url: (draft.url as string | undefined) ?? '',
    recv_svcscriptcode: (draft.recv_svcscriptcode as string | undefined) ?? '',
    send_svcscriptcode: (draft.send_svcscriptcode as string | undefined) ?? '',
    recv_svcscriptcode_ws: (draft.recv_svcscriptcode_ws as string | undefined) ?? '',
    send_svcscriptcode_ws: (draft.send_svcscriptcode_ws as string | undefined) ?? '',
    opts: {
      allow_files_api: opts.allow_files_api ?? false,
      comment: opts.comment ?? '',
      issync: opts.issync ?? false,
      recv_timeout: opts.recv_timeout ?? 0,
      roles: opts.roles ?? [],
      userid: opts.userid ?? null,
      title: opts.title ?? '',
      filter_capabilities: opts.filter_capabilities ?? [],
      ...(opts.verify && { verify: opts.verify }),
      ...(opts.dedup && { dedup: opts.dedup }),
      ...(opts.deliver && { deliver: opts.deliver }),
    },
    ext: draft.ext as Channel['ext'],
  }
}

function valueAt(source: unknown, path: readonly string[]): unknown {
  let value = source
  for (const part of path) value = value !== null && typeof value === 'object' ? (value as Draft)[part] : undefined
  return value
}

function setAt(target: Channel, path: readonly string[], value: unknown): void {
  if (path.length === 1) (target as unknown as Draft)[path[0] as string] = value
  else (target.opts as unknown as Draft)[path[1] as string] = value
}

/** The rights a channel's token has (its `opts.roles` and its `opts.userid` user's), from memory. */
export type TokenRightsOf = (domainId: string, channel: Channel) => Rights

const PATH = '/rest/v1/service/integration_points'

/**
 * Who gets a channel's secrets in clear (SPEC §3, docs/iam.md): a caller who may change the
 * channel (PATCH on it) and whose own rights cover those of the channel's token — otherwise
 * reading a token would hand its reader the token's rights. Everyone else sees them masked.
 */
function mayReveal(tokenRightsOf: TokenRightsOf) {
  return (caller: CallContext, doc: Doc): boolean => {
    const { rights } = caller
    if (rights.all) return true
    if (typeof caller.scope !== 'string' || !rights.allows('PATCH', `${PATH}/${doc.id}`)) return false
    return beyond(rights, tokenRightsOf(caller.scope, doc as unknown as Channel)) === undefined
  }
}

/**
 * A channel may give its token rights only within its writer's own (docs/iam.md): roles it adds,
 * a user it names, and, when the writer chooses the token itself, everything the token can do.
 */
async function checkGrants(channel: Channel, sent: Draft, before: Doc | undefined, context: WriteContext): Promise<void> {
  const { tx, scope, rights } = context
  const beforeOpts = before?.opts as Opts | undefined
  const added = channel.opts.roles.filter((role) => !beforeOpts?.roles.includes(role))
  if (added.length > 0) {
    const shown = added.map((role) => `'${role}'`).join(', ')
    assertWithin(rights, await rightsOfRoles(tx, scope, added), 'opts.roles', `role ${shown}`)
  }
  if (channel.opts.userid !== null && channel.opts.userid !== beforeOpts?.userid) {
    assertWithin(rights, await rightsOfUser(tx, scope, channel.opts.userid), 'opts.userid', `user '${channel.opts.userid}'`)
  }
  if (typeof sent.token_local === 'string') {
    const token = await rightsOfRoles(tx, scope, channel.opts.roles)
    const user = await rightsOfUser(tx, scope, channel.opts.userid)
    for (const part of [token, user]) assertWithin(rights, part, 'token_local', 'choosing the token of this channel')
  }
}

/** SPEC §3 rules of the integration_point collection. */
export function integrationPointsCollection(licensing: Licensing, tokenRightsOf: TokenRightsOf): CollectionDef {
  /**
   * Checks and completes `channel`. `sent` is the body as the client sent it (create or PATCH):
   * only values the client sent can conflict with a solution-defined type.
   */
  async function check(channel: Channel, sent: Draft, before: Doc | undefined, context: WriteContext): Promise<Channel> {
    const { tx, scope } = context
    const problems: FieldError[] = []
    const scriptsMustExist = channel.type === 'public'

    if (channel.type === 'eventing') {
      for (const field of SCRIPT_FIELDS) {
        if (channel[field] !== '') problems.push({ field, message: 'must be empty on an eventing channel' })
      }
    } else if (channel.type !== 'public') {
      const found = await tx.table('channel_types').findBy('type', channel.type, undefined, KEEP)
      if (!found) throw invalidField('type', `'${channel.type}' is not public, eventing or a channel type defined by the master`)
      const channelType = found.doc as unknown as ChannelType
      for (const [path, typeField] of LOCKED_FIELDS) {
        const given = valueAt(sent, path)
        if (given !== undefined && given !== null && given !== channelType[typeField]) {
          problems.push({
            field: path.join('.'),
            message: `is fixed to ${JSON.stringify(channelType[typeField])} by channel type '${channel.type}'`,
          })
        }
        setAt(channel, path, channelType[typeField])
      }
    }

    if (scriptsMustExist) {
      const scripts = tx.table('svcscripts')
      for (const field of SCRIPT_FIELDS) {
        const code = channel[field]
        const unchanged = before !== undefined && before.type === channel.type && before[field] === code
        if (code !== '' && !unchanged && !(await scripts.findBy('code', code, scope, KEEP))) {
          problems.push({ field, message: `names script '${code}', which does not exist in this domain` })
        }
      }
    }

    if (channel.ipmask.length > MAX_IPMASK_ENTRIES) {
      problems.push({ field: 'ipmask', message: `may hold at most ${MAX_IPMASK_ENTRIES} entries` })
    }
    channel.ipmask.forEach((entry, i) => {
      const problem = ipRangeProblem(entry)
      if (problem) problems.push({ field: `ipmask.${i}`, message: problem })
    })
    const badUrl = urlProblem(channel.url)
    if (badUrl) problems.push({ field: 'url', message: badUrl })
    for (const role of await unknownRoles(tx, scope, channel.opts.roles)) {
      problems.push({ field: 'opts.roles', message: `'${role}' is not a known role` })
    }
    const userid = channel.opts.userid
    if (
      userid !== null &&
      userid !== (before?.opts as Opts | undefined)?.userid &&
      !(await tx.table('users').read(scope, userid, KEEP))
    ) {
      problems.push({ field: 'opts.userid', message: `user '${userid}' does not exist in this domain` })
    }

    problems.push(...verifyProblems(channel.opts.verify))
    const verify = channel.opts.verify
    if (verify) {
      const kept = keptSecrets(verify.secrets, (before?.opts as Opts | undefined)?.verify?.secrets, 'opts.verify.secrets')
      if ('problem' in kept) problems.push(kept.problem)
      else channel.opts.verify = { ...verify, secrets: kept.secrets }
    }

    const deliver = deliverSettings(channel.opts.deliver, (before?.opts as Opts | undefined)?.deliver, context.now)
    problems.push(...deliver.problems)
    if (deliver.deliver) channel.opts.deliver = deliver.deliver

    if (channel.token_local.includes('…')) {
      problems.push({ field: 'token_local', message: 'is masked: send the token itself, or leave it out to keep it' })
    }

    const [first] = problems
    if (first) throw new AppError('bad_request', `${first.field} ${first.message}`, problems)
    await checkGrants(channel, sent, before, context)

    if (before === undefined || before.type !== channel.type) await licensing.reserve(tx, scope as string, channel.type)
    return channel
  }

  const rules: CollectionRules = {
    async create(draft, context) {
      const channel = complete(draft, (draft.token_local as string | undefined) ?? newChannelToken())
      return (await check(channel, draft, undefined, context)) as unknown as Doc
    },
    async update(merged, before, patch, context) {
      // "token_local": null rotates the token; a given value replaces it; otherwise it stays.
      const token = patch.token_local === null ? newChannelToken() : (merged.token_local as string)
      const channel = complete(merged, token)
      return (await check(channel, patch, before, context)) as unknown as Doc
    },
  }

  return {
    name: 'integration_points',
    path: PATH,
    noun: 'integration point',
    master: false,
    entity: ChannelSchema,
    createBody: ChannelCreate,
    keys: ['code', 'token_local'],
    secrets: ['token_local', 'token_remote', 'token_remote2'],
    hidden: [],
    guarded: { fields: ['token_local', 'token_remote', 'token_remote2'], mayReveal: mayReveal(tokenRightsOf) },
    concealed: { paths: WRITE_ONLY_PATHS, conceal: (doc) => concealChannel(doc as unknown as Channel) as unknown as Doc },
    onceFields: [],
    defaultOrder: [{ path: ['code'], descending: false }],
    writable: true,
    rules,
  }
}
