// Files API download throughput on loopback: a 50 MiB file through GET /files/<path> (token,
// ipmask and option checks, path rules, the blob engine's open and read, ETag and Range
// headers) against a bare fastify route streaming the same bytes from a plain file, in
// alternating rounds; the upload of the file through PUT is timed once, too. Embedded mode (the
// file in the data directory), or with BENCH_CLUSTER=1 one node of cluster mode (the file in the
// NATS object store; BENCH_DATABASE_URL, BENCH_NATS_URL), where the NATS server's CPU per MiB is
// shown too.
//   bin/bench files        (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_FILE_MIB, BENCH_CLUSTER)
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, get, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ChildServer, processCpuMicros, startChildServer } from './support/child-server.ts'
import { median } from './support/load.ts'
import { startSwitchboard } from './support/switchboard-node.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 4)
const mib = Number(process.env.BENCH_FILE_MIB ?? 50)
const cluster = process.env.BENCH_CLUSTER === '1'

/** The NATS server the cluster-mode node uses (by its port on the command line), for its CPU time. */
function natsServerPid(): number | undefined {
  const port = new URL(process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222').port || '4222'
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'nats-server') continue
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(port)) return Number(entry)
    } catch {
      // The process ended meanwhile.
    }
  }
  return undefined
}

interface Round {
  readonly mibPerSecond: number
  readonly downloads: number
  /** Server CPU time per MiB sent, ms. */
  readonly cpuMsPerMib: number
  /** The NATS server's CPU time per MiB sent, ms (cluster mode; it serves other clients too). */
  readonly natsCpuMsPerMib: number
}

/** Downloads `url` over and over on `connections` keep-alive connections for `duration` s. */
async function download(server: ChildServer, url: string, headers: Record<string, string>, duration: number): Promise<Round> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const cpuBefore = server.cpuMicros()
  const natsBefore = natsPid === undefined ? 0 : processCpuMicros(natsPid)
  const started = performance.now()
  const end = started + duration * 1000
  let bytes = 0
  let downloads = 0
  const worker = async () => {
    while (performance.now() < end) {
      await new Promise<void>((resolve, reject) => {
        get(url, { agent, headers }, (response) => {
          if (response.statusCode !== 200) reject(new Error(`GET ${url}: ${response.statusCode}`))
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length
          })
          response.on('end', () => {
            downloads++
            resolve()
          })
          response.on('error', reject)
        }).on('error', reject)
      })
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  const elapsed = (performance.now() - started) / 1000
  agent.destroy()
  const sentMib = bytes / (1 << 20)
  const natsCpu = natsPid === undefined ? 0 : processCpuMicros(natsPid) - natsBefore
  return {
    mibPerSecond: sentMib / elapsed,
    downloads,
    cpuMsPerMib: (server.cpuMicros() - cpuBefore) / 1000 / sentMib,
    natsCpuMsPerMib: natsCpu / 1000 / sentMib,
  }
}

async function sha256Of(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (response) => {
      const hash = createHash('sha256')
      response.on('data', (chunk: Buffer) => hash.update(chunk))
      response.on('end', () => resolve(hash.digest('hex')))
      response.on('error', reject)
    }).on('error', reject)
  })
}

const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-files-'))
const file = join(dir, 'bench.bin')
const content = randomBytes(mib << 20)
writeFileSync(file, content)
const expected = createHash('sha256').update(content).digest('hex')

const natsPid = cluster ? natsServerPid() : undefined
const bare = await startChildServer(new URL('./servers/bare-fastify.ts', import.meta.url), { BENCH_FILE: file })
// Embedded: the node as users run it; BENCH_CLUSTER=1: one cluster-mode worker (servers/switchboard.ts).
const switchboard =
  process.env.BENCH_CLUSTER === '1'
    ? await startChildServer(new URL('./servers/switchboard.ts', import.meta.url))
    : await startSwitchboard()
try {
  const { url, filesToken } = switchboard.info as { url: string; filesToken: string }
  const auth = { authorization: `Bearer ${filesToken}` }
  const uploadStarted = performance.now()
  await new Promise<void>((resolve, reject) => {
    const upload = request(`${url}/files/bench/bench.bin`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': content.length },
    })
    upload.on('response', (response) => {
      response.resume()
      response.on('end', () => (response.statusCode === 201 ? resolve() : reject(new Error(`PUT: ${response.statusCode}`))))
    })
    upload.on('error', reject)
    createReadStream(file).pipe(upload)
  })
  const uploadSeconds = (performance.now() - uploadStarted) / 1000
  const bareUrl = `${bare.info.url}/file`
  const filesUrl = `${url}/files/bench/bench.bin`
  for (const [name, target, headers] of [
    ['bare', bareUrl, {}],
    ['files', filesUrl, auth],
  ] as const) {
    if ((await sha256Of(target, headers)) !== expected) throw new Error(`${name} did not answer the same bytes`)
  }

  await download(bare, bareUrl, {}, 2)
  await download(switchboard, filesUrl, auth, 2)
  const baseline: Round[] = []
  const subject: Round[] = []
  for (let round = 0; round < rounds; round++) {
    baseline.push(await download(bare, bareUrl, {}, seconds))
    subject.push(await download(switchboard, filesUrl, auth, seconds))
  }
  const b = median(baseline.map((r) => r.mibPerSecond))
  const s = median(subject.map((r) => r.mibPerSecond))
  const cell = (results: Round[], pick: (round: Round) => number, digits: number) => median(results.map(pick)).toFixed(digits)
  const row = (name: string, results: Round[]) =>
    `| ${name} | ${cell(results, (r) => r.mibPerSecond, 0)} | ${median(results.map((r) => r.downloads))} | ${cell(
      results,
      (r) => r.cpuMsPerMib,
      2,
    )} |${natsPid === undefined ? '' : ` ${cell(results, (r) => r.natsCpuMsPerMib, 2)} |`}`
  const mode = cluster ? 'cluster mode: PostgreSQL, NATS object store' : 'embedded mode'
  const natsColumn = natsPid === undefined ? ['', ''] : [' NATS server CPU ms/MiB |', '---:|']
  process.stdout.write(
    `Files download (${mode}), ${mib} MiB file, ${connections} connections, median of ${rounds} rounds of ${seconds} s (Node ${process.version})\n\n` +
      `| server | MiB/s | downloads per round | server CPU ms/MiB |${natsColumn[0]}\n|---|---:|---:|---:|${natsColumn[1]}\n` +
      `${row('bare fastify static stream', baseline)}\n${row('Switchboard GET /files', subject)}\n\n` +
      `ratio (MiB/s): ${((100 * s) / b).toFixed(0)} %\n` +
      `upload of the file through PUT /files: ${(mib / uploadSeconds).toFixed(0)} MiB/s (${uploadSeconds.toFixed(2)} s, once)\n`,
  )
} finally {
  await Promise.all([bare.stop(), switchboard.stop()])
  rmSync(dir, { recursive: true, force: true })
}
