import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CHANNELS_GROUP } from './channels.ts'
import { assignments, type Group, runGroup } from './command.ts'
import { EXEC_COMMAND, exec } from './exec.ts'
import { EXECUTIONS_GROUP } from './executions.ts'
import { SCRIPTS_GROUP } from './scripts.ts'
import { SERVER_COMMANDS } from './server-commands.ts'
import { KEYS_GROUP, USERS_GROUP } from './users.ts'

const GROUPS: readonly Group[] = [CHANNELS_GROUP, SCRIPTS_GROUP, EXECUTIONS_GROUP, USERS_GROUP, KEYS_GROUP]

/** What `fn` writes on stdout, and what it answers. */
async function captured(fn: () => Promise<number | undefined>): Promise<{ code: number | undefined; stdout: string }> {
  const write = process.stdout.write
  let stdout = ''
  process.stdout.write = ((chunk: string) => {
    stdout += chunk
    return true
  }) as typeof process.stdout.write
  try {
    return { code: await fn(), stdout }
  } finally {
    process.stdout.write = write
  }
}

describe('the command line', () => {
  it('answers --help on every command of every group, without a server or a key', async () => {
    for (const group of GROUPS) {
      const groupHelp = await captured(() => runGroup(group, ['--help']))
      assert.equal(groupHelp.code, 0)
      assert.match(groupHelp.stdout, new RegExp(`^Usage: switchboard ${group.name} <command> \\[options\\]\\n`))
      for (const [name, command] of Object.entries(group.commands)) {
        const usage = ['switchboard', group.name, name, ...(command.args ?? [])].join(' ')
        assert.ok(groupHelp.stdout.includes(`  ${usage.slice('switchboard '.length)} `), `${group.name} --help lists ${name}`)
        for (const asked of [
          [name, '--help'],
          [name, '-h'],
          ['help', name],
          [name, 'x', 'y', '--help'],
        ]) {
          const help = await captured(() => runGroup(group, asked))
          assert.equal(help.code, 0, asked.join(' '))
          assert.ok(help.stdout.startsWith(`Usage: ${usage} [options]\n\n${command.summary[0]?.toUpperCase()}`), help.stdout)
          assert.match(help.stdout, /--output <mode> +text \(default\) or json/)
        }
      }
    }
    const execHelp = await captured(() => exec(['--help']))
    assert.equal(execHelp.code, 0)
    assert.ok(execHelp.stdout.startsWith(`Usage: switchboard exec <channel-code> [options]\n\n${'Send'}`))
    assert.ok(EXEC_COMMAND.details?.includes('--field execution_id'))
    for (const [name, command] of Object.entries(SERVER_COMMANDS)) {
      const help = await captured(() => command(['--help']))
      assert.equal(help.code, 0, name)
      assert.match(help.stdout, new RegExp(`^Usage: switchboard ${name}\\b`))
    }
  })

  it('refuses unknown commands, options and values with exit code 2 and where to look', async () => {
    const refusals: [readonly string[], string][] = [
      [['frob'], "unknown channels command 'frob' (see 'switchboard channels --help')"],
      [['list', '--frob'], "Unknown option '--frob' (see 'switchboard channels list --help')"],
      [['get'], "missing <code> (see 'switchboard channels get --help')"],
      [['get', 'a', 'b'], "unexpected arguments: b (see 'switchboard channels get --help')"],
      [['list', '--output', 'xml'], "--output xml: use one of text, json (see 'switchboard channels list --help')"],
      [
        ['create', 'x', '--timeout=-1'],
        "--timeout -1: must be a whole number of seconds from 0 to 60 (see 'switchboard channels create --help')",
      ],
      [['create', 'x', '--set', 'novalue'], "--set novalue: use <field>=<value> (see 'switchboard channels create --help')"],
      [
        ['create', 'x', '--set', '__proto__.x=1'],
        "--set __proto__.x=1: use <field>=<value> (see 'switchboard channels create --help')",
      ],
    ]
    for (const [args, message] of refusals) {
      await assert.rejects(runGroup(CHANNELS_GROUP, args), { name: 'CliError', exitCode: 2, message }, args.join(' '))
    }
    await assert.rejects(runGroup(EXECUTIONS_GROUP, ['tail', '--trigger', 'cron']), {
      exitCode: 2,
      message: "--trigger cron: use one of http, ws, svcscript, send, event, replay (see 'switchboard executions tail --help')",
    })
    await assert.rejects(runGroup(EXECUTIONS_GROUP, ['list', '-n', 'all']), {
      exitCode: 2,
      message: "--lines all: must be a whole number from 0 to 500 (see 'switchboard executions list --help')",
    })
    await assert.rejects(exec(['hook', '-X', 'TRACE']), {
      exitCode: 2,
      message: "--method TRACE: use one of GET, POST, PUT, PATCH, DELETE, OPTIONS (see 'switchboard exec --help')",
    })
    await assert.rejects(SERVER_COMMANDS.backup?.([]) ?? Promise.resolve(), {
      exitCode: 2,
      message: "missing <file> (see 'switchboard backup --help')",
    })
    await assert.rejects(SERVER_COMMANDS.serve?.(['now']) ?? Promise.resolve(), {
      exitCode: 2,
      message: "unexpected arguments: now (see 'switchboard serve --help')",
    })
  })

  it('turns --set flags into a PATCH body: paths nest, JSON values are JSON, anything else text', () => {
    assert.deepEqual(
      assignments(['opts.recv_timeout=30', 'opts.title=Shop orders', 'ipmask=["10.0.0.0/8"]', 'opts.comment=null', 'url='], 'x'),
      { opts: { recv_timeout: 30, title: 'Shop orders', comment: null }, ipmask: ['10.0.0.0/8'], url: '' },
    )
  })
})
