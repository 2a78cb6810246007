import type { CollectionService } from '../collections/collection-service.ts'
import { AppError } from '../errors.ts'
import { ALL_RIGHTS } from '../iam/permissions.ts'
import type { Store } from '../store/store.ts'
import { DEFAULT_DOMAIN, MASTER_DOMAIN } from './domain-schemas.ts'

/**
 * Creates the master and work domains on an empty store. Returns whether this start created
 * them (the first start). Safe when several nodes start at once: a domain another node created
 * first is a conflict, which is fine.
 */
export async function ensureBuiltInDomains(store: Store, domains: CollectionService): Promise<boolean> {
  let created = false
  for (const name of [MASTER_DOMAIN, DEFAULT_DOMAIN]) {
    if (await store.table('domains').findBy('name', name)) continue
    try {
      await domains.create({ scope: null, actor: { kind: 'root', id: 'root' }, rights: ALL_RIGHTS }, { name })
      created = true
    } catch (error) {
      if (!(error instanceof AppError && error.kind === 'conflict')) throw error
    }
  }
  return created
}
