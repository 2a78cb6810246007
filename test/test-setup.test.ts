import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

/**
 * What bin/test does on a fresh machine (bin/runtime.sh: ensure_postgres, ensure_nats,
 * ensure_chromium), run with a PATH where the services' programs are missing and `apt-get` is a
 * stand-in that records its calls and "installs" a package by putting a program in place. The
 * machine's own PostgreSQL, NATS and packages are never touched: the URLs point at free loopback
 * ports, the PostgreSQL configuration directory at a temporary one.
 */

const RUNTIME = new URL('../bin/runtime.sh', import.meta.url).pathname
/** Debian's nats-server, which the stand-in apt-get "installs" by linking it. */
const NATS_SERVER = '/usr/sbin/nats-server'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

interface Sandbox {
  readonly dir: string
  readonly stubs: string
  /** Lines the stand-ins wrote: `apt-get …`, `pg_ctlcluster …`, `psql …`. */
  calls(): string[]
  stub(name: string, body: string): void
}

function sandbox(t: TestContext): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-setup-'))
  const stubs = join(dir, 'bin')
  mkdirSync(stubs)
  const log = join(dir, 'calls.log')
  writeFileSync(log, '')
  t.after(() => {
    // The servers a run started (their pid files are in the sandbox), then the sandbox.
    for (const name of readdirSync(dir).filter((file) => file.endsWith('.pid'))) {
      try {
        process.kill(Number(readFileSync(join(dir, name), 'utf8')), 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const stub = (name: string, body: string) => {
    const path = join(stubs, name)
    writeFileSync(path, `#!/bin/bash\necho "${name} $*" >>'${log}'\n${body}\n`)
    chmodSync(path, 0o755)
  }
  return {
    dir,
    stubs,
    stub,
    calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
  }
}

/** Sources bin/runtime.sh and runs `fn` with only the stand-ins, /usr/bin and /bin in PATH. */
function runSetup(box: Sandbox, fn: string, env: Record<string, string>) {
  const child = spawn('bash', ['-c', `. '${RUNTIME}' && ${fn}`], {
    env: { PATH: `${box.stubs}:/usr/bin:/bin`, HOME: box.dir, TMPDIR: box.dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  )
}

describe('bin/test on a fresh machine (bin/runtime.sh)', () => {
  it('installs nats-server when it is missing and starts it with JetStream in the background', async (t) => {
    const box = sandbox(t)
    box.stub('apt-get', `[ "$1" = install ] && ln -s ${NATS_SERVER} '${box.stubs}/nats-server'; exit 0`)
    const port = await freePort()

    const run = await runSetup(box, 'ensure_nats', { SWITCHBOARD_TEST_NATS_URL: `nats://127.0.0.1:${port}` })
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(box.calls(), ['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends nats-server'])
    assert.match(run.stderr, new RegExp(`starting nats-server with JetStream on 127\\.0\\.0\\.1:${port}`))
    // It outlived the shell that started it, and JetStream answers.
    const connection = await connect({ servers: `nats://127.0.0.1:${port}`, reconnect: false })
    try {
      const info = await (await jetstreamManager(connection)).getAccountInfo()
      assert.equal(info.streams, 0)
    } finally {
      await connection.close()
    }

    // Run again: it answers, so nothing is installed or started.
    const again = await runSetup(box, 'ensure_nats', { SWITCHBOARD_TEST_NATS_URL: `nats://127.0.0.1:${port}` })
    assert.deepEqual([again.code, again.stderr], [0, ''])
    assert.equal(box.calls().length, 2)
  })

  it('installs and starts PostgreSQL when nothing answers, lets the tests in, and creates the database', async (t) => {
    const box = sandbox(t)
    const etc = join(box.dir, 'etc-postgresql')
    const port = await freePort()
    const listenerPid = join(box.dir, 'postgres.pid')
    // The package brings a cluster's configuration and pg_ctlcluster, whose "server" accepts TCP.
    box.stub(
      'apt-get',
      `if [ "$1" = install ]; then
         mkdir -p '${etc}/15/main' && printf 'local all postgres peer\\nhost all all 127.0.0.1/32 scram-sha-256\\n' >'${etc}/15/main/pg_hba.conf'
         cat >'${box.stubs}/pg_ctlcluster' <<'STUB'
#!/bin/bash
echo "pg_ctlcluster $*" >>'${join(box.dir, 'calls.log')}'
setsid nohup node -e "require('net').createServer((s) => s.end()).listen(${port}, '127.0.0.1')" >/dev/null 2>&1 </dev/null &
echo "$!" >'${listenerPid}'
STUB
         chmod +x '${box.stubs}/pg_ctlcluster'
       fi`,
    )
    // psql: the database exists once it has been created.
    box.stub(
      'psql',
      `case "$*" in
         *"create database"*) touch '${box.dir}/created' ;;
         *"/test "*) [ -e '${box.dir}/created' ] || exit 2 ;;
       esac`,
    )
    const url = `postgres://postgres@127.0.0.1:${port}/test`

    const run = await runSetup(box, 'ensure_postgres', { SWITCHBOARD_TEST_DATABASE_URL: url, SWITCHBOARD_PG_ETC: etc })
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(box.calls(), [
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends postgresql',
      'pg_ctlcluster --skip-systemctl-redirect 15 main start',
      `psql -w ${url} -Atc select 1`,
      `psql -w postgres://postgres@127.0.0.1:${port}/postgres -Atc select 1`,
      `psql -w postgres://postgres@127.0.0.1:${port}/postgres -qc create database "test"`,
    ])
    assert.equal(
      readFileSync(join(etc, '15/main/pg_hba.conf'), 'utf8'),
      'host all all 127.0.0.1/32 trust\nlocal all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n',
      'loopback without a password comes first, in the cluster installed for the tests',
    )

    // Run again: it answers and the database is there: nothing more.
    const again = await runSetup(box, 'ensure_postgres', { SWITCHBOARD_TEST_DATABASE_URL: url, SWITCHBOARD_PG_ETC: etc })
    assert.deepEqual([again.code, again.stderr], [0, ''])
    assert.deepEqual(box.calls().slice(6), [`psql -w ${url} -Atc select 1`])
  })

  it('says what to do when PostgreSQL asks for a password, and leaves servers elsewhere alone', async (t) => {
    const box = sandbox(t)
    box.stub('psql', 'exit 2')
    const server = createServer((socket) => socket.end())
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => server.close())
    const url = `postgres://postgres@127.0.0.1:${(server.address() as { port: number }).port}/test`
    const refused = await runSetup(box, 'ensure_postgres', { SWITCHBOARD_TEST_DATABASE_URL: url })
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /refuses its user without a password\. Allow it for the tests/)

    const elsewhere = await runSetup(box, 'ensure_postgres && ensure_nats', {
      SWITCHBOARD_TEST_DATABASE_URL: 'postgres://ci@db.internal:5432/test',
      SWITCHBOARD_TEST_NATS_URL: 'nats://nats.internal:4222',
    })
    assert.deepEqual([elsewhere.code, elsewhere.stderr], [0, ''])
    assert.deepEqual(box.calls(), [`psql -w ${url} -Atc select 1`, `psql -w ${url.replace(/test$/, 'postgres')} -Atc select 1`])
  })

  it('names a SWITCHBOARD_TEST_CHROMIUM that is not there instead of installing anything', async (t) => {
    const box = sandbox(t)
    box.stub('apt-get', 'exit 0')
    const wrong = await runSetup(box, 'ensure_chromium', { SWITCHBOARD_TEST_CHROMIUM: join(box.dir, 'no-chromium') })
    assert.equal(wrong.code, 1)
    assert.equal(wrong.stderr, `switchboard: SWITCHBOARD_TEST_CHROMIUM=${join(box.dir, 'no-chromium')} is not an executable\n`)
    assert.deepEqual(box.calls(), [])
  })
})
