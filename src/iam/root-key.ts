import { randomBytes } from 'node:crypto'
import { secretHash } from '../ids.ts'
import type { Settings } from '../store/store.ts'

const SETTING = 'root_key_sha256'

export interface RootKey {
  readonly hash: string
  /** The key, when this start generated it: to be printed once, never again. */
  readonly generated: string | undefined
}

/**
 * The root key: `SWITCHBOARD_ADMIN_KEY` when set (its hash is stored, so it keeps working if the
 * variable is later removed), else the stored one, else a new one generated on this first start.
 */
export async function ensureRootKey(settings: Settings, configured: string | undefined): Promise<RootKey> {
  if (configured !== undefined) {
    const hash = secretHash(configured)
    await settings.set(SETTING, hash)
    return { hash, generated: undefined }
  }
  const stored = await settings.get(SETTING)
  if (stored !== undefined) return { hash: stored, generated: undefined }
  const key = `sbr_${randomBytes(32).toString('base64url')}`
  const hash = secretHash(key)
  // Two nodes starting on an empty database: one hash wins, and only its node prints its key.
  const winner = await settings.setIfAbsent(SETTING, hash)
  return { hash: winner, generated: winner === hash ? key : undefined }
}
