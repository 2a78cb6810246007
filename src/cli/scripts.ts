import { describeError } from './api-client.ts'
import { type Group, runGroup } from './command.ts'
import { cell, emit, emitList, table } from './output.ts'
import { readScriptDir } from './script-files.ts'
import { entityBody, fromEntity, planPush, pull, report } from './script-sync.ts'

const SCRIPTS = '/rest/v1/service/svcscripts'

type Entity = Record<string, unknown>

export const SCRIPTS_GROUP: Group = {
  name: 'scripts',
  intro: `The domain's service scripts. As files, to keep in git and deploy with one command: each
script is <code>.js or <code>.ts (its source: the body of an async function) and
<code>.meta.json ({"name", "title", "comment", "loglevel"}; optional: missing means the defaults).`,
  commands: {
    list: {
      summary: "the domain's scripts: code, language, name, title, last change",
      async run({ api, output }) {
        const all = await api().list(SCRIPTS, { order: 'code', mask: 'id,code,name,lang,opts,ext' })
        emitList(output, all, () =>
          table(
            ['code', 'lang', 'name', 'title', 'changed'],
            all.map((script) => [
              String(script.code),
              String(script.lang),
              cell(script.name),
              cell((script.opts as Entity | undefined)?.title),
              cell((script.ext as Entity | undefined)?.lwt),
            ]),
            'no scripts',
          ),
        )
        return 0
      },
    },
    get: {
      args: ['<code>'],
      summary: "one script's source",
      details: 'Prints the source as it is stored; --output json prints the entity (code, name, lang, source, opts, ext).',
      async run({ api, args, output }) {
        const script = await api().byKey(SCRIPTS, 'script', 'code', args[0] as string)
        emit(output, script, () => String(script.source))
        return 0
      },
    },
    pull: {
      args: ['<dir>'],
      summary: 'write every script of the domain into <dir>',
      details: `Overwrites the files of the domain's scripts and names the local scripts the server does not
have; it deletes nothing. --output json prints {pulled: [{code, file}], local_only}.`,
      async run({ api, args, output }) {
        const remote = (await api().list(SCRIPTS, { order: 'code' })).map(fromEntity)
        return pull(args[0] as string, remote, output.json)
      },
    },
    push: {
      args: ['<dir>'],
      summary: "create or update the domain's scripts from <dir>",
      details: `  --dry-run                 change nothing; show what would change, as a unified diff
  --delete                  also delete the domain's scripts that have no file in <dir>

A script the server refuses (it does not compile) is reported and the others are still pushed;
the exit code is then 1. --output json prints {dry_run, created, updated, deleted, unchanged,
failed: [{code, error}], diffs: {code: diff}}.`,
      options: { 'dry-run': { type: 'boolean' }, delete: { type: 'boolean' } },
      async run({ api, args, values, output }) {
        const local = readScriptDir(args[0] as string)
        const client = api()
        const remote = (await client.list(SCRIPTS, { order: 'code' })).map(fromEntity)
        const plan = planPush(local, remote, values.delete === true)
        if (values['dry-run'] === true) {
          report(plan, [], true, output.json)
          return 0
        }
        const failed: { code: string; error: string }[] = []
        const apply = async (code: string, method: string, path: string, body?: unknown) => {
          const reply = await client.send(method, path, body)
          if (reply.status < 200 || reply.status >= 300) failed.push({ code, error: describeError(reply) })
        }
        for (const change of plan.changes) {
          const { local: file, server } = change
          if (change.kind === 'create' && file) await apply(file.code, 'POST', SCRIPTS, entityBody(file))
          else if (change.kind === 'update' && file && server)
            await apply(file.code, 'PATCH', `${SCRIPTS}/${server.id}`, entityBody(file))
          else if (change.kind === 'delete' && server) await apply(server.code, 'DELETE', `${SCRIPTS}/${server.id}`)
        }
        report(plan, failed, false, output.json)
        return failed.length === 0 ? 0 : 1
      },
    },
  },
}

/** `switchboard scripts …` */
export function scripts(args: readonly string[]): Promise<number> {
  return runGroup(SCRIPTS_GROUP, args)
}
