import { useState } from 'preact/hooks'
import { ApiError, list, PATHS, request } from '../api/client.ts'
import type { Channel, RunAnswer, Script } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { navigate } from '../app/router.ts'
import { useResource } from '../app/use-resource.ts'
import { DeleteEntity } from '../components/delete-entity.tsx'
import { Select, TextArea, TextField } from '../components/field.tsx'
import { RunResult } from '../components/run-result.tsx'
import { ErrorNote, Loaded } from '../components/states.tsx'
import { CodeEditor, type SourceProblem } from '../editor/code-editor.tsx'

const STARTER = `// The body of an async function. startparam(n) gives the trigger's inputs;
// for a webhook: 1 channel, 2 method, 3 URL, 4 body, 5 headers, 6 sender IP, 7 protocol.
const body = startparam(4)
log.info('received', body)
return { received: body }
`

/** `line 2, column 11: Unexpected token` in the server's compile error. */
function compileProblem(error: unknown): SourceProblem | null {
  if (!(error instanceof ApiError)) return null
  const text = error.about('source')
  if (!text) return null
  const at = /^line (\d+), column (\d+): (.*)$/.exec(text)
  return at ? { line: Number(at[1]), column: Number(at[2]), message: at[3] as string } : { message: text }
}

export function ScriptEdit({ id }: { id: string }) {
  const creating = id === 'new'
  const script = useResource(() => (creating ? Promise.resolve(null) : request<Script>('GET', `${PATHS.scripts}/${id}`)), [id])
  return (
    <section>
      <p class="crumbs">
        <Link href="/scripts">Scripts</Link> /
      </p>
      <Loaded resource={script}>{(found) => <ScriptForm key={found?.id ?? 'new'} script={found} />}</Loaded>
    </section>
  )
}

function ScriptForm({ script }: { script: Script | null }) {
  const [code, setCode] = useState(script?.code ?? '')
  const [lang, setLang] = useState<'js' | 'ts'>(script?.lang ?? 'js')
  const [loglevel, setLoglevel] = useState(script?.opts.loglevel ?? 'info')
  const [source, setSource] = useState(script?.source ?? STARTER)
  const [stored, setStored] = useState(script)
  const [problem, setProblem] = useState<unknown>(null)
  const [saved, setSaved] = useState(false)
  const [busy, setBusy] = useState(false)
  const [runProblem, setRunProblem] = useState<SourceProblem | null>(null)
  const dirty =
    !stored || stored.source !== source || stored.lang !== lang || stored.code !== code || stored.opts.loglevel !== loglevel
  const about = (field: string) => (problem instanceof ApiError ? problem.about(field) : undefined)

  const save = async () => {
    setBusy(true)
    setProblem(null)
    setSaved(false)
    try {
      const body = { code: code.trim(), lang, source, opts: { loglevel } }
      const next = stored
        ? await request<Script>('PATCH', `${PATHS.scripts}/${stored.id}`, body)
        : await request<Script>('POST', PATHS.scripts, body)
      setRunProblem(null)
      if (!stored) {
        navigate(`/scripts/${next.id}`, { replace: true })
        return
      }
      setStored(next)
      setSaved(true)
    } catch (error) {
      setProblem(error)
    } finally {
      setBusy(false)
    }
  }

  const compileError = compileProblem(problem)
  return (
    <>
      <div class="page-head">
        <h1>{stored ? stored.code : 'New script'}</h1>
        {stored && (
          <div class="actions">
            <Link href={`/executions?script=${encodeURIComponent(stored.code)}`} class="button">
              Executions
            </Link>
            <Link href={`/audit?entity=${stored.id}`} class="button">
              History
            </Link>
          </div>
        )}
      </div>
      <form
        class="form editor-form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault()
          void save()
        }}
      >
        {problem !== null && !compileError && <ErrorNote error={problem} />}
        {compileError && (
          <p class="note error" role="alert">
            Does not compile{compileError.line !== undefined ? ` — line ${compileError.line}, column ${compileError.column}` : ''}
            : {compileError.message}
          </p>
        )}
        {saved && !dirty && (
          <p class="note ok" role="status">
            Saved. The next execution uses it.
          </p>
        )}
        {stored?.quarantined && <Quarantined script={stored} onReleased={setStored} onError={setProblem} />}
        <div class="row">
          <TextField
            label="Code"
            value={code}
            onInput={setCode}
            required
            mono
            error={about('code')}
            hint="channels name the script by its code"
          />
          <Select
            label="Language"
            value={lang}
            onChange={(value) => setLang(value as 'js' | 'ts')}
            options={[
              { value: 'js', label: 'JavaScript' },
              { value: 'ts', label: 'TypeScript' },
            ]}
          />
          <Select
            label="Log level"
            value={loglevel}
            onChange={(value) => setLoglevel(value as typeof loglevel)}
            options={['debug', 'info', 'warn', 'error']}
          />
        </div>
        <div class="field">
          <span class="label" id="source-label">
            Source <span class="hint">Ctrl-Space completes the script API; Ctrl-S saves</span>
          </span>
          <CodeEditor
            value={source}
            lang={lang}
            onChange={setSource}
            onSave={() => void save()}
            problem={compileError ?? runProblem}
            label="Script source"
          />
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || !dirty}>
            {busy ? 'Saving…' : stored ? 'Save' : 'Create script'}
          </button>
          {stored && (
            <DeleteEntity
              path={`${PATHS.scripts}/${stored.id}`}
              title={`Delete script ${stored?.code}?`}
              backTo="/scripts"
              onError={setProblem}
            >
              Channels that still name it must be changed first.
            </DeleteEntity>
          )}
        </div>
      </form>
      {stored && <RunPanel script={stored} dirty={dirty} onProblem={setRunProblem} />}
    </>
  )
}

/**
 * A script version that held an isolate V8 could not stop runs only in script-host processes
 * (SPEC §13): said here, with the way out. Saving a changed source ends it too.
 */
function Quarantined({
  script,
  onReleased,
  onError,
}: {
  script: Script
  onReleased: (script: Script) => void
  onError: (error: unknown) => void
}) {
  const [busy, setBusy] = useState(false)
  const quarantine = script.quarantined as NonNullable<Script['quarantined']>
  const release = async () => {
    setBusy(true)
    try {
      onReleased(await request<Script>('POST', `${PATHS.scripts}/${script.id}/release`))
    } catch (error) {
      onError(error)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div class="note warn" role="status">
      <p>
        <strong>Quarantined</strong> since {new Date(quarantine.since).toLocaleString()}: {quarantine.reason}. This version runs
        in a script-host process of its own domain, away from the workers, until it is changed or released.
      </p>
      <button type="button" disabled={busy} onClick={() => void release()}>
        {busy ? 'Releasing…' : 'Release'}
      </button>
    </div>
  )
}

function RunPanel({
  script,
  dirty,
  onProblem,
}: {
  script: Script
  dirty: boolean
  onProblem: (problem: SourceProblem | null) => void
}) {
  const [params, setParams] = useState('[]')
  const [timeout, setTimeoutMs] = useState('10000')
  const [channel, setChannel] = useState('')
  const [answer, setAnswer] = useState<RunAnswer | null>(null)
  const [problem, setProblem] = useState<unknown>(null)
  const [paramsProblem, setParamsProblem] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)
  const channels = useResource(() => list<Channel>(PATHS.channels, { mask: 'code', limit: 1000 }), [])

  const run = async (event: Event) => {
    event.preventDefault()
    let startparams: unknown
    try {
      startparams = JSON.parse(params)
    } catch (error) {
      setParamsProblem(`not JSON: ${(error as Error).message}`)
      return
    }
    if (!Array.isArray(startparams)) {
      setParamsProblem('a JSON array: [param1, param2, …]')
      return
    }
    setParamsProblem(undefined)
    setBusy(true)
    setProblem(null)
    try {
      const result = await request<RunAnswer>('POST', `${PATHS.scripts}/${script.id}/run`, {
        startparams,
        timeout: Number(timeout) || 10000,
        ...(channel && { channel }),
      })
      setAnswer(result)
      onProblem(result.error ? { message: result.error.message, line: result.error.line, column: result.error.column } : null)
    } catch (error) {
      setProblem(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="panel" aria-labelledby="run-title">
      <h2 id="run-title">Run</h2>
      {dirty && <p class="note">Runs use the saved version; save first to run your changes.</p>}
      <form class="form" onSubmit={run} noValidate>
        <TextArea
          label="Start parameters"
          value={params}
          onInput={setParams}
          rows={3}
          hint='a JSON array: startparam(1) is its first item, e.g. [{"order": 7}]'
          error={paramsProblem}
        />
        <div class="row">
          <TextField label="Timeout (ms)" type="number" value={timeout} onInput={setTimeoutMs} />
          <Select
            label="As channel"
            value={channel}
            onChange={setChannel}
            options={[
              { value: '', label: '— none —' },
              ...(channels.state === 'ready' ? channels.data.items.map((item) => item.code) : []),
            ]}
            hint="gives the script `channel` (and its url)"
          />
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Running…' : 'Run'}
          </button>
        </div>
      </form>
      {problem !== null && <ErrorNote error={problem} />}
      {answer && (
        <RunResult
          id={answer.execution_id}
          status={answer.status}
          durationMs={answer.duration_ms}
          error={answer.error}
          output={answer.variables}
          logs={answer.logs}
        />
      )}
    </section>
  )
}
