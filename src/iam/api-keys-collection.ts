import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import { AppError, invalidField } from '../errors.ts'
import { newApiKey, secretHash } from '../ids.ts'
import type { Doc } from '../store/store.ts'
import { assertWithin, rightsOfRoles } from './grants.ts'
import { ApiKey, ApiKeyCreate } from './iam-schemas.ts'

const rules: CollectionRules = {
  async create(draft, { tx, scope, rights, actor }) {
    // A key outlives the token that would make it (a rotation would not take it back), and it
    // acts as a user the token is not: keys are made by users and the root key only.
    if (actor.kind === 'channel') {
      throw new AppError('forbidden', "a channel's token cannot create API keys: they are made with a user's key")
    }
    const userid = draft.userid as string
    // Locked `share`: a concurrent delete of the user waits for this key, then refuses (1409).
    const user = (await tx.table('users').read(scope, userid, { lock: 'share' }))?.doc
    if (!user) throw invalidField('userid', `names user '${userid}', which does not exist in this domain`)
    // A key acts with its user's rights: whoever makes one gets them (docs/iam.md).
    const granted = await rightsOfRoles(tx, scope, user.roles as string[])
    assertWithin(rights, granted, 'userid', `a key for user '${String(user.login)}'`)
    const key = newApiKey()
    return {
      id: draft.id as string,
      userid,
      name: (draft.name as string | undefined) ?? '',
      last_used_at: null,
      ext: draft.ext,
      key_hash: secretHash(key),
      key,
    } satisfies Doc
  },
  async update(merged, before) {
    if (merged.userid !== before.userid) throw invalidField('userid', 'cannot be changed; create a key for the other user')
    return {
      id: before.id,
      userid: before.userid,
      name: merged.name ?? '',
      // Written by the server only (key-usage.ts), never by a PATCH.
      last_used_at: before.last_used_at ?? null,
      ext: merged.ext,
      key_hash: before.key_hash,
    }
  },
}

/** API keys: the secret is shown once, in the create answer; only its SHA-256 is stored. */
export const apiKeysCollection: CollectionDef = {
  name: 'api_keys',
  path: '/rest/v1/iam/api_keys',
  noun: 'API key',
  master: false,
  entity: ApiKey,
  createBody: ApiKeyCreate,
  keys: [],
  secrets: ['key_hash'],
  hidden: ['key_hash'],
  onceFields: ['key'],
  defaultOrder: [{ path: ['ext', 'ct'], descending: false }],
  writable: true,
  rules,
}
