// Files API download throughput on loopback: a 50 MiB file through GET /files/<path> (token,
// ipmask and option checks, path rules, the blob engine's open and trailer read, ETag and Range
// headers) against a bare fastify route streaming the same bytes from a plain file, in
// alternating rounds; the upload of the file through PUT is timed once, too.
//   bin/bench files        (BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_FILE_MIB)
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, get, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ChildServer, startChildServer } from './support/child-server.ts'
import { median } from './support/load.ts'

const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 4)
const mib = Number(process.env.BENCH_FILE_MIB ?? 50)

interface Round {
  readonly mibPerSecond: number
  readonly downloads: number
  /** Server CPU time per MiB sent, ms. */
  readonly cpuMsPerMib: number
}

/** Downloads `url` over and over on `connections` keep-alive connections for `duration` s. */
async function download(server: ChildServer, url: string, headers: Record<string, string>, duration: number): Promise<Round> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const cpuBefore = server.cpuMicros()
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
  return { mibPerSecond: sentMib / elapsed, downloads, cpuMsPerMib: (server.cpuMicros() - cpuBefore) / 1000 / sentMib }
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

const bare = await startChildServer(new URL('./servers/bare-fastify.ts', import.meta.url), { BENCH_FILE: file })
const switchboard = await startChildServer(new URL('./servers/switchboard.ts', import.meta.url))
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
  const row = (name: string, results: Round[]) =>
    `| ${name} | ${median(results.map((r) => r.mibPerSecond)).toFixed(0)} | ${median(results.map((r) => r.downloads))} | ${median(
      results.map((r) => r.cpuMsPerMib),
    ).toFixed(2)} |`
  process.stdout.write(
    `Files download, ${mib} MiB file, ${connections} connections, median of ${rounds} rounds of ${seconds} s (Node ${process.version})\n\n` +
      '| server | MiB/s | downloads per round | server CPU ms/MiB |\n|---|---:|---:|---:|\n' +
      `${row('bare fastify static stream', baseline)}\n${row('Switchboard GET /files', subject)}\n\n` +
      `ratio (MiB/s): ${((100 * s) / b).toFixed(0)} %\n` +
      `upload of the file through PUT /files: ${(mib / uploadSeconds).toFixed(0)} MiB/s (${uploadSeconds.toFixed(2)} s, once)\n`,
  )
} finally {
  await Promise.all([bare.stop(), switchboard.stop()])
  rmSync(dir, { recursive: true, force: true })
}
