import { useEffect, useState } from 'preact/hooks'
import { list, PATHS, request } from '../api/client.ts'
import type { Channel, Execution } from '../api/types.ts'
import { navigate } from '../app/router.ts'
import { useResource } from '../app/use-resource.ts'
import { Select, TextArea, TextField } from '../components/field.tsx'
import { JsonView } from '../components/json-view.tsx'
import { RunResult } from '../components/run-result.tsx'
import { Empty, ErrorNote, Loaded, Loading } from '../components/states.tsx'
import { bodyText, isNoisyHeader, webhookOf } from '../inspector/webhook-request.ts'

const METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE']
const EXECUTION_HEADER = 'switchboard-execution-id'

interface Reply {
  readonly status: number
  readonly headers: [string, string][]
  readonly body: string
  readonly ms: number
}

/** `Name: value` lines as headers; the problem with the first bad line, if any. */
function parseHeaders(text: string): Record<string, string> | string {
  const headers: Record<string, string> = {}
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    const colon = line.indexOf(':')
    if (colon < 1) return `line ${index + 1} is not "Name: value"`
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim()
  }
  return headers
}

/**
 * The execution a webhook made. Records are written just after the answer (an async one when its
 * job ran), so ask until it is there — by filter, which answers an empty list meanwhile, not 404.
 */
async function executionOf(id: string, settled: boolean): Promise<Execution | null> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { items } = await list<Execution>(PATHS.executions, { filter: JSON.stringify({ id }), limit: 1 })
    const execution = items[0]
    if (execution && (!settled || (execution.status !== 'queued' && execution.status !== 'running'))) return execution
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return null
}

/** Sends a webhook to a channel (the public /exec endpoint, with its token) and shows the reply beside its execution. */
export function Tester({ query }: { query: URLSearchParams }) {
  const channels = useResource(
    () => list<Channel>(PATHS.channels, { mask: 'id,code,type,token_local,recv_svcscriptcode,opts.issync', limit: 1000 }),
    [],
  )
  const channelId = query.get('channel') ?? ''
  const [method, setMethod] = useState('POST')
  const [subPath, setSubPath] = useState('')
  const [headers, setHeaders] = useState('Content-Type: application/json')
  const [body, setBody] = useState('{\n  "order": 7\n}')
  const [reply, setReply] = useState<Reply | null>(null)
  const [execution, setExecution] = useState<Execution | null>(null)
  const [waiting, setWaiting] = useState(false)
  const [problem, setProblem] = useState<unknown>(null)
  const [headerProblem, setHeaderProblem] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)
  // "Edit and resend" from the inspector: the recorded request, prefilled once (?from=<execution id>).
  const from = query.get('from') ?? ''
  const [prefilled, setPrefilled] = useState<string | null>(null)
  useEffect(() => {
    if (from === '') return
    request<Execution>('GET', `${PATHS.executions}/${from}`).then((recorded) => {
      const webhook = webhookOf(recorded.input)
      if (!webhook) return
      setMethod(webhook.method)
      const search = webhook.url.includes('?') ? webhook.url.slice(webhook.url.indexOf('?')) : ''
      setSubPath(`${webhook.path.replace(/^\/+/, '')}${search}`)
      setHeaders(
        Object.entries(webhook.headers)
          .filter(([name]) => !isNoisyHeader(name) && name !== 'authorization' && name !== 'user-agent')
          .map(([name, value]) => `${name}: ${value}`)
          .join('\n'),
      )
      setBody(bodyText(webhook) ?? '')
      setPrefilled(recorded.id)
    }, setProblem)
  }, [from])

  return (
    <section>
      <div class="page-head">
        <h1>Webhook tester</h1>
      </div>
      <Loaded resource={channels}>
        {({ items }) => {
          const usable = items.filter((channel) => channel.type !== 'eventing')
          if (usable.length === 0) return <Empty>Create a channel with a webhook script first.</Empty>
          // Without a choice, the first channel that has a webhook script (one without cannot answer).
          const channel =
            usable.find((item) => item.id === channelId) ??
            usable.find((item) => item.recv_svcscriptcode !== '') ??
            (usable[0] as Channel)
          const send = async (event: Event) => {
            event.preventDefault()
            const parsed = parseHeaders(headers)
            if (typeof parsed === 'string') {
              setHeaderProblem(parsed)
              return
            }
            setHeaderProblem(undefined)
            setBusy(true)
            setProblem(null)
            setReply(null)
            setExecution(null)
            const started = performance.now()
            try {
              const path = subPath.trim() === '' ? '' : `/${subPath.trim().replace(/^\/+/, '')}`
              const withBody = method !== 'GET' && method !== 'DELETE'
              const response = await fetch(`/exec${path}`, {
                method,
                headers: { ...parsed, authorization: `Bearer ${channel.token_local}` },
                ...(withBody && { body }),
              })
              const text = await response.text()
              const answer: Reply = {
                status: response.status,
                headers: [...response.headers],
                body: text,
                ms: Math.round(performance.now() - started),
              }
              setReply(answer)
              let id = response.headers.get(EXECUTION_HEADER)
              if (!id && response.ok && !channel.opts.issync)
                id = (JSON.parse(text) as { execution_id?: string }).execution_id ?? null
              if (id) {
                setWaiting(true)
                setExecution(await executionOf(id, !channel.opts.issync))
              }
            } catch (error) {
              setProblem(error)
            } finally {
              setBusy(false)
              setWaiting(false)
            }
          }
          return (
            <div class="columns">
              <form class="form" onSubmit={send} noValidate aria-label="Request">
                {prefilled && (
                  <p class="note">
                    Prefilled from execution <span class="mono">{prefilled.slice(0, 8)}</span>: edit and send.
                  </p>
                )}
                <Select
                  label="Channel"
                  value={channel.id}
                  onChange={(id) => navigate(`/tester?channel=${id}`, { replace: true })}
                  options={usable.map((item) => ({ value: item.id, label: `${item.code}${item.opts.issync ? '' : ' (async)'}` }))}
                />
                <div class="row">
                  <Select label="Method" value={method} onChange={setMethod} options={METHODS} />
                  <TextField
                    label="Sub-path"
                    value={subPath}
                    onInput={setSubPath}
                    placeholder="orders/7?x=1"
                    mono
                    hint="after /exec"
                  />
                </div>
                <TextArea
                  label="Headers"
                  value={headers}
                  onInput={setHeaders}
                  rows={3}
                  hint="one per line, Name: value (the token is added)"
                  error={headerProblem}
                />
                {method !== 'GET' && method !== 'DELETE' && <TextArea label="Body" value={body} onInput={setBody} rows={8} />}
                <div class="actions">
                  <button type="submit" class="primary" disabled={busy}>
                    {busy ? 'Sending…' : 'Send'}
                  </button>
                </div>
              </form>
              <div aria-live="polite">
                {problem !== null && <ErrorNote error={problem} />}
                {reply && (
                  <section class="panel" aria-labelledby="reply-title">
                    <h2 id="reply-title">
                      Reply <span class={reply.status < 400 ? 'badge status-ok' : 'badge status-error'}>{reply.status}</span>{' '}
                      <span class="sub">{reply.ms} ms</span>
                    </h2>
                    <details>
                      <summary>Headers</summary>
                      <JsonView value={Object.fromEntries(reply.headers)} />
                    </details>
                    <JsonView value={prettyBody(reply.body)} label="Reply body" />
                  </section>
                )}
                {waiting && <Loading what="Waiting for the execution" />}
                {execution && (
                  <section class="panel" aria-labelledby="execution-title">
                    <h2 id="execution-title">Execution</h2>
                    <RunResult
                      id={execution.id}
                      status={execution.status}
                      durationMs={execution.duration_ms}
                      error={execution.error}
                      output={execution.output}
                      logs={execution.logs}
                      outputLabel="Output"
                    />
                  </section>
                )}
                {!reply && problem === null && <p class="sub">The reply and the execution it produced appear here.</p>}
              </div>
            </div>
          )
        }}
      </Loaded>
    </section>
  )
}

function prettyBody(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text === '' ? '(empty)' : text
  }
}
