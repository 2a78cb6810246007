import { existsSync } from 'node:fs'
import { unifiedDiff } from './line-diff.ts'
import { print, printJson } from './output.ts'
import {
  DEFAULT_META,
  metaFile,
  metaText,
  readScriptDir,
  type ScriptFile,
  type ScriptMeta,
  sourceFile,
  writeScript,
} from './script-files.ts'

/** Scripts as files (`scripts pull` and `scripts push`): what the server has, what would change, and the report. */

export interface RemoteScript extends ScriptFile {
  readonly id: string
}

export function fromEntity(entity: Record<string, unknown>): RemoteScript {
  const opts = (entity.opts ?? {}) as Partial<ScriptMeta>
  return {
    id: String(entity.id),
    code: String(entity.code),
    lang: entity.lang === 'ts' ? 'ts' : 'js',
    source: String(entity.source ?? ''),
    meta: {
      name: String(entity.name ?? ''),
      title: opts.title ?? '',
      comment: opts.comment ?? '',
      loglevel: opts.loglevel ?? 'info',
    },
  }
}

export function entityBody(script: ScriptFile): Record<string, unknown> {
  const { name, title, comment, loglevel } = script.meta
  return { code: script.code, lang: script.lang, source: script.source, name, opts: { title, comment, loglevel } }
}

export function pull(dir: string, remote: readonly RemoteScript[], json: boolean): number {
  const onServer = new Set(remote.map((script) => script.code))
  const localOnly = existsSync(dir)
    ? readScriptDir(dir)
        .map((script) => script.code)
        .filter((code) => !onServer.has(code))
    : []
  for (const script of remote) writeScript(dir, script)
  if (json) {
    printJson({ pulled: remote.map((script) => ({ code: script.code, file: sourceFile(script) })), local_only: localOnly })
    return 0
  }
  const lines = remote.map((script) => `pulled ${sourceFile(script)}`)
  lines.push(`${remote.length} script${remote.length === 1 ? '' : 's'} written to ${dir}`)
  if (localOnly.length > 0) lines.push(`not on the server (push creates them, or delete the files): ${localOnly.join(', ')}`)
  print(lines.join('\n'))
  return 0
}

interface Change {
  readonly kind: 'create' | 'update' | 'delete'
  readonly local: ScriptFile | undefined
  readonly server: RemoteScript | undefined
  /** What would change, as a unified diff of the files. */
  readonly diff: string
}

export interface Plan {
  readonly changes: readonly Change[]
  readonly unchanged: readonly string[]
}

/** Creates first, then updates, then deletes (a deleted script may have been renamed into a new one). */
export function planPush(local: readonly ScriptFile[], remote: readonly RemoteScript[], withDeletes: boolean): Plan {
  const byCode = new Map(remote.map((script) => [script.code, script]))
  const creates: Change[] = []
  const updates: Change[] = []
  const unchanged: string[] = []
  for (const script of local) {
    const server = byCode.get(script.code)
    const diff = filesDiff(server, script)
    if (!server) creates.push({ kind: 'create', local: script, server, diff })
    else if (diff === '') unchanged.push(script.code)
    else updates.push({ kind: 'update', local: script, server, diff })
  }
  const localCodes = new Set(local.map((script) => script.code))
  const deletes: Change[] = withDeletes
    ? remote
        .filter((script) => !localCodes.has(script.code))
        .map((server) => ({ kind: 'delete', local: undefined, server, diff: filesDiff(server, undefined) }))
    : []
  return { changes: [...creates, ...updates, ...deletes], unchanged }
}

/** The diff from the server's version of a script to the local one, file by file, as git shows it. */
function filesDiff(server: ScriptFile | undefined, local: ScriptFile | undefined): string {
  const name = (script: ScriptFile | undefined, side: 'server' | 'local', file: (script: ScriptFile) => string) =>
    script === undefined ? '/dev/null' : `${side === 'server' ? 'server' : 'local'}/${file(script)}`
  const sourceDiff = unifiedDiff(server?.source ?? '', local?.source ?? '', {
    oldName: name(server, 'server', sourceFile),
    newName: name(local, 'local', sourceFile),
  })
  const renamed = server !== undefined && local !== undefined && server.lang !== local.lang
  const source = sourceDiff === '' && renamed ? `--- server/${sourceFile(server)}\n+++ local/${sourceFile(local)}\n` : sourceDiff
  // A metadata file with the defaults is not worth a diff of its own on a create or a delete.
  const metaOf = (script: ScriptFile | undefined, other: ScriptFile | undefined) =>
    script === undefined ? (other === undefined || isDefault(other.meta) ? undefined : '') : metaText(script.meta)
  const before = metaOf(server, local)
  const after = metaOf(local, server)
  const meta =
    before === undefined || after === undefined
      ? ''
      : unifiedDiff(before, after, {
          oldName: name(server, 'server', (script) => metaFile(script.code)),
          newName: name(local, 'local', (script) => metaFile(script.code)),
        })
  return source + meta
}

function isDefault(meta: ScriptMeta): boolean {
  return metaText(meta) === metaText(DEFAULT_META)
}

export function report(plan: Plan, failed: readonly { code: string; error: string }[], dryRun: boolean, json: boolean): void {
  const codes = (kind: Change['kind']) =>
    plan.changes
      .filter((change) => change.kind === kind)
      .map((change) => (change.local ?? change.server)?.code as string)
      .filter((code) => !failed.some((failure) => failure.code === code))
  if (json) {
    printJson({
      dry_run: dryRun,
      created: codes('create'),
      updated: codes('update'),
      deleted: codes('delete'),
      unchanged: plan.unchanged,
      failed,
      diffs: Object.fromEntries(plan.changes.map((change) => [(change.local ?? change.server)?.code, change.diff])),
    })
    return
  }
  const lines: string[] = []
  const done = { create: 'created', update: 'updated', delete: 'deleted' } as const
  for (const change of plan.changes) {
    const code = (change.local ?? change.server)?.code as string
    if (dryRun) {
      lines.push(`would ${change.kind} ${code}`, change.diff.trimEnd())
    } else {
      const failure = failed.find((item) => item.code === code)
      lines.push(failure ? `${change.kind} ${code} failed: ${failure.error}` : `${done[change.kind]} ${code}`)
    }
  }
  const count = (kind: Change['kind']) => plan.changes.filter((change) => change.kind === kind).length
  const unchanged = `${plan.unchanged.length} unchanged`
  if (dryRun) {
    lines.push(
      `dry run: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete, ${unchanged}; nothing was changed`,
    )
  } else if (plan.changes.length === 0) {
    lines.push(`nothing to push: ${unchanged}`)
  } else if (failed.length > 0) {
    lines.push(`${failed.length} of ${plan.changes.length} changes failed`)
  } else {
    lines.push(`pushed: ${count('create')} created, ${count('update')} updated, ${count('delete')} deleted, ${unchanged}`)
  }
  print(lines.join('\n'))
}
