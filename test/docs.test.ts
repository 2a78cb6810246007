import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { capabilityRole } from './support/iam.ts'
import { type RawReply, rawRequest } from './support/raw-http.ts'
import { CHANNELS, json, ROOT_KEY, SCRIPTS, startServer } from './support/server.ts'
import { TestSocket } from './support/ws-client.ts'

/**
 * The docs against the server: every curl example runs, every `METHOD /path` and every path the
 * prose names reaches a route, every websocket frame shown is one the server answers, and no
 * page says that something the server does is missing. So the docs cannot drift unnoticed.
 */

const DOC_FILES = [
  'README.md',
  ...readdirSync('docs')
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
]
const DOCS = DOC_FILES.map((file) => ({ file, text: readFileSync(file, 'utf8') }))

interface Block {
  readonly file: string
  readonly lang: string
  readonly text: string
}

const BLOCKS: Block[] = DOCS.flatMap(({ file, text }) =>
  [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((match) => ({ file, lang: match[1] ?? '', text: match[2] ?? '' })),
)

/** The state the examples' variables and placeholders stand for. */
interface World {
  readonly url: string
  readonly token: string
  readonly scriptId: string
}

/** A documented placeholder (`<id>`, `<token_local>`, `$TOKEN`, …) as a value the server can take. */
function placeholder(name: string, world: World): string {
  const lower = name.toLowerCase()
  if (lower.includes('token')) return world.token
  if (lower === 'id' && world.scriptId !== '') return world.scriptId
  if (lower.includes('id')) return randomUUID()
  if (lower.includes('key')) return ROOT_KEY
  if (lower === 'p' || lower.includes('prefix')) return 'docs'
  if (lower.includes('path')) return 'docs/example.txt'
  return 'x'
}

const VARIABLES: Record<string, (world: World) => string> = {
  KEY: () => ROOT_KEY,
  ROOT_KEY: () => ROOT_KEY,
  SWITCHBOARD_KEY: () => ROOT_KEY,
  TOKEN: (world) => world.token,
  FILES_TOKEN: (world) => world.token,
  ID: (world) => world.scriptId,
  // A channel's id (the README's tour reads it with the CLI): any UUID reaches the route.
  CHANNEL: () => randomUUID(),
  // If-Match: any current entity (the example reads the real ETag; the test runs each curl alone).
  ETAG: () => '*',
}

/** A path as documented (`/coll/<id>`, `…`, `[?channel_id=<id>]`) made concrete. */
function concretePath(documented: string, world: World): string {
  return (
    documented
      .replace(/^\/coll(?=\/|$)/, '/rest/v1/service/svcscripts')
      .replace(/\[([^\]]*)\]/g, '$1')
      // `/exec<path>`: a path placeholder glued to the route is a sub-path of it.
      .replace(/([^/])<(\w*path)>/g, (_all, before: string, name: string) => `${before}/${placeholder(name, world)}`)
      .replace(/<([^>]+)>/g, (_all, name: string) => placeholder(name, world))
      .replace(/:([a-z_]+)(?=\/|$)/g, (_all, name: string) => placeholder(name, world))
      .replaceAll('…', 'x')
  )
}

/** Splits shell text into words: quotes, backslashes and `$VAR` as a POSIX shell reads them. */
function words(command: string, world: World): string[] {
  const out: string[] = []
  let word: string | undefined
  // `sbr_…` is how the docs show the root key.
  const expand = (text: string) =>
    text.replace(/\$\{?([A-Z_]+)\}?/g, (all, name: string) => VARIABLES[name]?.(world) ?? all).replaceAll('sbr_…', ROOT_KEY)
  for (let i = 0; i < command.length; i++) {
    const char = command[i] as string
    if (/\s/.test(char)) {
      if (word !== undefined) out.push(word)
      word = undefined
    } else if (char === '#' && word === undefined) {
      const end = command.indexOf('\n', i)
      if (end === -1) break
      i = end - 1
    } else if (char === "'") {
      const end = command.indexOf("'", i + 1)
      word = (word ?? '') + command.slice(i + 1, end)
      i = end
    } else if (char === '"') {
      let text = ''
      for (i++; i < command.length && command[i] !== '"'; i++) {
        if (command[i] === '\\' && i + 1 < command.length) i++
        text += command[i]
      }
      word = (word ?? '') + expand(text)
    } else if (char === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[++i]
    } else {
      let text = char
      while (i + 1 < command.length && !/[\s'"\\]/.test(command[i + 1] as string)) text += command[++i]
      word = (word ?? '') + expand(text)
    }
  }
  if (word !== undefined) out.push(word)
  return out
}

/** Whether a shell text ends inside single or double quotes (a `#` comment does not count). */
function quoteOpen(text: string): boolean {
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string
    if (quote !== undefined) {
      if (char === quote) quote = undefined
      else if (char === '\\' && quote === '"') i++
    } else if (char === "'" || char === '"') quote = char
    else if (char === '\\') i++
    else if (char === '#' && (i === 0 || /\s/.test(text[i - 1] as string))) {
      const end = text.indexOf('\n', i)
      if (end === -1) return false
      i = end
    }
  }
  return quote !== undefined
}

/** One curl command of a shell block, with the output the docs show after it (if any). */
interface Example {
  readonly where: string
  readonly command: string
  readonly output: string
}

/** The curl commands of the shell blocks: continuations and quotes spanning lines joined. */
function curlExamples(): Example[] {
  const examples: Example[] = []
  for (const block of BLOCKS) {
    if (!['sh', 'bash', 'shell', 'console', 'text', ''].includes(block.lang)) continue
    const lines = block.text.split('\n')
    const prompted = lines.some((line) => line.startsWith('$ '))
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i] as string
      if (prompted && !line.startsWith('$ ')) continue
      line = line.replace(/^\$ /, '').trimStart()
      if (!line.startsWith('curl ')) continue
      let command = line
      // Joined while a line ends with a backslash or leaves a quote open.
      while (i + 1 < lines.length && (/\\$/.test(command) || quoteOpen(command))) {
        command = /\\$/.test(command) ? `${command.slice(0, -1)} ${(lines[++i] as string).trim()}` : `${command}\n${lines[++i]}`
      }
      let output = ''
      while (prompted && i + 1 < lines.length && !(lines[i + 1] as string).startsWith('$ ')) output += `${lines[++i]}\n`
      examples.push({ where: `${block.file}: ${line.slice(0, 100)}`, command, output })
    }
  }
  return examples
}

interface Request {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string | undefined
}

/** What a curl command sends (the flags the docs use). */
function curlRequest(command: string, world: World): Request {
  // Placeholders first: `<execution id>` is one, spaces and all.
  const concrete = command.replace(/<([A-Za-z][^<>\n'"]*)>/g, (_all, name: string) => placeholder(name, world))
  const args = words(concrete, world).slice(1)
  let method: string | undefined
  let target: string | undefined
  let get = false
  const headers: Record<string, string> = {}
  const data: string[] = []
  let upload = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    const next = () => args[++i] as string
    if (arg === '-X' || arg === '--request') method = next()
    else if (arg === '-H' || arg === '--header') {
      const [name, ...value] = next().split(':')
      headers[(name as string).trim().toLowerCase()] = value.join(':').trim()
    } else if (['-d', '--data', '--data-binary', '--data-raw', '--data-urlencode'].includes(arg)) {
      const value = next()
      if (arg === '--data-urlencode') {
        const at = value.indexOf('=')
        data.push(`${value.slice(0, at)}=${encodeURIComponent(value.slice(at + 1))}`)
      } else data.push(value)
    } else if (arg === '-G' || arg === '--get') get = true
    else if (arg === '-T' || arg === '--upload-file') {
      next()
      upload = true
    } else if (arg === '-o' || arg === '--output') next()
    else if (!arg.startsWith('-')) target = arg
  }
  assert.ok(target, `no URL in ${command}`)
  const url = new URL(/^https?:\/\//.test(target) ? target : `http://${target}`)
  let path = concretePath(decodeURI(url.pathname), world) + url.search
  let body: string | undefined
  if (get && data.length > 0) path += `${url.search === '' ? '?' : '&'}${data.join('&')}`
  else if (data.length > 0) {
    body = data.join('&')
    headers['content-type'] ??= 'application/x-www-form-urlencoded'
  } else if (upload) body = 'a,b\n1,2\n'
  const resolved = method ?? (upload ? 'PUT' : body !== undefined ? 'POST' : 'GET')
  return { method: resolved, path, headers, body }
}

/** The route is there: any answer but the not-found handler's, and never a server error. */
function assertRouted(reply: RawReply, what: string): void {
  const message = (reply.body as { error_message?: unknown } | undefined)?.error_message
  assert.ok(
    !(reply.status === 404 && typeof message === 'string' && message.startsWith('no route ')),
    `${what}: the server has no such route (${reply.text.slice(0, 200)})`,
  )
  assert.ok(reply.status < 500, `${what}: ${reply.status} ${reply.text.slice(0, 300)}`)
}

async function world(t: Parameters<typeof startServer>[0]) {
  const server = await startServer(t)
  const { root } = server
  const script = json(await root.post(SCRIPTS, { code: 'docs-example', source: 'return startparam(1)' }))
  const roles = ['admin', await capabilityRole(root)]
  const channel = json(
    await root.post(CHANNELS, {
      code: 'docs-example',
      type: 'public',
      opts: { allow_files_api: true, filter_capabilities: ['*'], roles, issync: true },
    }),
  )
  const state: World = { url: server.url, token: String(channel.token_local), scriptId: String(script.id) }
  return { ...server, world: state }
}

describe('the docs against the server', () => {
  it('runs every curl example: its route exists, it does not fail the server, and a documented error is the one it gets', async (t) => {
    const { url, world: state } = await world(t)
    const examples = curlExamples()
    assert.ok(examples.length >= 38, `found only ${examples.length} curl examples`)
    for (const example of examples) {
      const request = curlRequest(example.command, state)
      const reply = await rawRequest(url, request.method, request.path, request.headers, request.body)
      if (request.method === 'LOOKUP') {
        assert.equal(reply.status, 400, example.where)
        assert.match(String((reply.body as { error_message: string }).error_message), /send POST \S+\/lookup/, example.where)
        continue
      }
      assertRouted(reply, example.where)
      const documented = /"error_code": ?(\d{4})/.exec(example.output)?.[1]
      if (documented !== undefined) assert.equal(reply.status, Number(documented) - 1000, `${example.where}: ${reply.text}`)
      else if (request.headers['content-type']?.startsWith('application/json') && !/<[^>\n]+>|…/.test(example.command)) {
        // A JSON body the docs show is one the server takes (those with placeholders aside).
        assert.notEqual(reply.status, 400, `${example.where}: ${reply.text}`)
      }
    }
  })

  it('reaches a route for every METHOD /path and every server path the prose names', async (t) => {
    const { url, world: state } = await world(t)
    const headers = { authorization: `Bearer ${ROOT_KEY}` }
    const seen = new Set<string>()
    for (const { file, text } of DOCS) {
      for (const [, method, documented] of text.matchAll(/\b(GET|POST|PUT|PATCH|DELETE|HEAD) +(\/[^\s`'")|,]*)/g)) {
        const path = concretePath(documented as string, state)
        if (path.startsWith('/ws/') || seen.has(`${method} ${documented}`)) continue
        seen.add(`${method} ${documented}`)
        assertRouted(await rawRequest(url, method as string, path, headers), `${file}: ${method} ${documented}`)
      }
      // Paths named without a method: some verb must reach a route.
      for (const [, documented] of text.matchAll(/`(\/(?:rest\/v1|exec|files|temp|metrics|healthz|readyz|ui)\b[^`\s]*)`/g)) {
        // Prefixes (`/rest/v1/`) and patterns (`/rest/v1/service/*`) name no one route.
        if (seen.has(documented as string) || /[*]|[/…]$/.test(documented as string)) continue
        seen.add(documented as string)
        const path = concretePath(documented as string, state)
        let routed: RawReply | undefined
        for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
          const reply = await rawRequest(url, method, path, headers)
          const message = (reply.body as { error_message?: unknown } | undefined)?.error_message
          if (!(reply.status === 404 && typeof message === 'string' && message.startsWith('no route '))) {
            routed = reply
            break
          }
        }
        assert.ok(routed, `${file}: no method reaches a route at ${documented}`)
        assert.ok(routed.status < 500, `${file}: ${documented}: ${routed.status} ${routed.text.slice(0, 200)}`)
      }
    }
    assert.ok(seen.size >= 40, `found only ${seen.size} paths`)
  })

  it('answers every websocket frame the docs show, as they show it', async (t) => {
    const { url, world: state } = await world(t)
    const socket = new TestSocket(`${url.replace('http', 'ws')}/ws/token/v1/${state.token}`)
    t.after(() => socket.socket.close())
    await socket.opened()
    const all = DOCS.flatMap(({ text }) => [...text.matchAll(/\["([a-z][a-z_]*)", *\{/g)].map((match) => match[1] as string))
    const serverFrames = new Set(['event', 'error', ...all.filter((name) => name.endsWith('_result'))])
    const requests = new Set(all.filter((name) => !serverFrames.has(name)))
    for (const name of serverFrames) {
      if (name.endsWith('_result'))
        assert.ok(requests.has(name.slice(0, -'_result'.length)), `${name} answers no documented frame`)
    }
    // The frames as the JSON examples write them (those that are JSON), then every name bare.
    const written = BLOCKS.filter((block) => block.lang === 'json')
      .flatMap((block) => block.text.split('\n'))
      .flatMap((line) => {
        try {
          const frame = JSON.parse(line) as unknown
          return Array.isArray(frame) && typeof frame[0] === 'string' && requests.has(frame[0]) ? [frame as [string, object]] : []
        } catch {
          return []
        }
      })
    let n = 0
    for (const [name, payload] of [...written, ...[...requests].map((name) => [name, {}] as [string, object])]) {
      const qid = `docs-${n++}`
      socket.send([name, { ...payload, qid }])
      const [answered, answer] = await socket.next(
        ([frame, body]) => body.qid === qid && [`${name}_result`, 'error'].includes(frame),
      )
      assert.equal(answered, `${name}_result`, `${name}: the server answers ${JSON.stringify([answered, answer])}`)
      assert.notEqual(answer.error_code, 1403, `${name}: a channel allowed everything is refused: ${JSON.stringify(answer)}`)
    }
    assert.ok(requests.size >= 7, `found only ${[...requests].join(', ')}`)
    assert.ok(written.length >= 5, `found only ${written.length} written frames`)
  })

  it('never says that something the server does is missing', () => {
    for (const { file, text } of DOCS) {
      const stale = /not built yet|not yet built|with (?:a )?later issues?/i.exec(text)
      assert.equal(stale, null, `${file}: "${stale?.[0]}" (describe what the server does today)`)
    }
  })
})
