import type { CollectionDef, CollectionRules } from '../collections/collection.ts'
import { invalidField } from '../errors.ts'
import { newApiKey, secretHash } from '../ids.ts'
import type { Doc } from '../store/store.ts'
import { ApiKey, ApiKeyCreate } from './iam-schemas.ts'

const rules: CollectionRules = {
  async create(draft, { tx, scope }) {
    const userid = draft.userid as string
    // Locked `share`: a concurrent delete of the user waits for this key, then refuses (1409).
    if (!(await tx.table('users').read(scope, userid, { lock: 'share' }))) {
      throw invalidField('userid', `names user '${userid}', which does not exist in this domain`)
    }
    const key = newApiKey()
    return {
      id: draft.id as string,
      userid,
      name: (draft.name as string | undefined) ?? '',
      ext: draft.ext,
      key_hash: secretHash(key),
      key,
    } satisfies Doc
  },
  async update(merged, before) {
    if (merged.userid !== before.userid) throw invalidField('userid', 'cannot be changed; create a key for the other user')
    return { id: before.id, userid: before.userid, name: merged.name ?? '', ext: merged.ext, key_hash: before.key_hash }
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
