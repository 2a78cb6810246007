/**
 * Whether `error`, from a store or the data directory, says there is no room left: SQLite's
 * SQLITE_FULL, PostgreSQL's disk_full (53100) or out_of_memory-like 53xxx, the OS's ENOSPC or
 * EDQUOT. The HTTP edge answers 507 naming it (http/error-handler.ts); the cause is logged.
 */
export function storageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'SQLITE_FULL' || code === '53100' || code === 'ENOSPC' || code === 'EDQUOT'
}
