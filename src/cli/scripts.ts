import { existsSync } from 'node:fs'
import { describeError } from './api-client.ts'
import { unifiedDiff } from './line-diff.ts'
import { CLIENT_HELP, clientOf, parseCommand, positionals, print, printJson, usageError } from './options.ts'
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

const SCRIPTS = '/rest/v1/service/svcscripts'

const SCRIPTS_HELP = `Usage: switchboard scripts <pull|push> <dir> [options]

Scripts as files, to keep in git and deploy with one command: each script is <code>.js or
<code>.ts (its source: the body of an async function) and <code>.meta.json
({"name", "title", "comment", "loglevel"}; optional: missing means the defaults).

  scripts pull <dir>            write every script of the domain into <dir>
  scripts push <dir>            create or update the domain's scripts from <dir>
      --dry-run                 change nothing; show what would change, as a unified diff
      --delete                  also delete the domain's scripts that have no file in <dir>

${CLIENT_HELP}`

const PUSH_OPTIONS = { 'dry-run': { type: 'boolean' }, delete: { type: 'boolean' } } as const

/** `switchboard scripts …` */
export async function scripts(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined) {
    // No command: the help, as a usage mistake (stderr, exit code 2).
    process.stderr.write(SCRIPTS_HELP)
    return 2
  }
  if (sub === 'help' || sub === '--help' || sub === '-h') {
    print(SCRIPTS_HELP)
    return 0
  }
  const { values, positionals: given } = parseCommand(rest, sub === 'push' ? PUSH_OPTIONS : {}, 'scripts')
  if (values.help) {
    print(SCRIPTS_HELP)
    return 0
  }
  if (sub !== 'pull' && sub !== 'push') throw usageError(`unknown scripts command '${sub}'`, 'scripts')
  const [dir] = positionals(given, ['<dir>'], 'scripts') as [string]
  const api = clientOf(values)
  const remote = (await api.list(SCRIPTS, { order: 'code' })).map(fromEntity)
  if (sub === 'pull') return pull(dir, remote, values.json === true)
  const flags = values as { 'dry-run'?: boolean; delete?: boolean; json?: boolean }
  const plan = planPush(readScriptDir(dir), remote, flags.delete === true)
  if (flags['dry-run']) {
    report(plan, [], true, flags.json === true)
    return 0
  }
  const failed: { code: string; error: string }[] = []
  const apply = async (code: string, method: string, path: string, body?: unknown) => {
    const reply = await api.send(method, path, body)
    if (reply.status < 200 || reply.status >= 300) failed.push({ code, error: describeError(reply) })
  }
  for (const change of plan.changes) {
    const { local, server } = change
    if (change.kind === 'create' && local) await apply(local.code, 'POST', SCRIPTS, entityBody(local))
    else if (change.kind === 'update' && local && server)
      await apply(local.code, 'PATCH', `${SCRIPTS}/${server.id}`, entityBody(local))
    else if (change.kind === 'delete' && server) await apply(server.code, 'DELETE', `${SCRIPTS}/${server.id}`)
  }
  report(plan, failed, false, flags.json === true)
  return failed.length === 0 ? 0 : 1
}

interface RemoteScript extends ScriptFile {
  readonly id: string
}

function fromEntity(entity: Record<string, unknown>): RemoteScript {
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

function entityBody(script: ScriptFile): Record<string, unknown> {
  const { name, title, comment, loglevel } = script.meta
  return { code: script.code, lang: script.lang, source: script.source, name, opts: { title, comment, loglevel } }
}

function pull(dir: string, remote: readonly RemoteScript[], json: boolean): number {
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

interface Plan {
  readonly changes: readonly Change[]
  readonly unchanged: readonly string[]
}

/** Creates first, then updates, then deletes (a deleted script may have been renamed into a new one). */
function planPush(local: readonly ScriptFile[], remote: readonly RemoteScript[], withDeletes: boolean): Plan {
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

function report(plan: Plan, failed: readonly { code: string; error: string }[], dryRun: boolean, json: boolean): void {
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
