import { useState } from 'preact/hooks'
import { ApiError, list, PATHS, request } from '../api/client.ts'
import type { Channel, RunAnswer, Script, ScriptVersion } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { navigate } from '../app/router.ts'
import { useResource } from '../app/use-resource.ts'
import { Confirm } from '../components/confirm.tsx'
import { DeleteEntity } from '../components/delete-entity.tsx'
import { Select, TextField } from '../components/field.tsx'
import { JsonView } from '../components/json-view.tsx'
import { RunResult } from '../components/run-result.tsx'
import { ErrorNote, Loaded } from '../components/states.tsx'
import { CodeEditor, type SourceProblem } from '../editor/code-editor.tsx'
import type { CheckProblem } from '../editor/type-check.worker.ts'
import { SideBySide } from '../inspector/side-by-side.tsx'

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
  const [checked, setChecked] = useState<readonly CheckProblem[]>([])
  const [versionsSeen, setVersionsSeen] = useState(0)
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
      setVersionsSeen((seen) => seen + 1)
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
            Saved{stored?.version !== undefined && ` as version ${stored.version}`}. The next execution uses it.
            {stored?.warnings &&
              stored.warnings.length > 0 &&
              ` It does not type-check: ${stored.warnings.length} problem(s), marked in the editor.`}
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
            onChecked={setChecked}
          />
          <div class="sub checked" role="status" aria-label="Live check">
            {checked.length === 0 ? (
              'No problems found while typing.'
            ) : (
              <>
                {checked.length} problem{checked.length === 1 ? '' : 's'} found while typing:
                <ul>
                  {checked.slice(0, 5).map((found) => (
                    <li key={`${found.line}:${found.column}:${found.message}`}>
                      line {found.line}, column {found.column}: {found.message}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </div>
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
      {stored && (
        <VersionsPanel
          key={versionsSeen}
          script={stored}
          onRolledBack={(next) => {
            setStored(next)
            setSource(next.source)
            setLang(next.lang)
            setVersionsSeen((seen) => seen + 1)
          }}
          onError={setProblem}
        />
      )}
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
  // startparam(1) … one field each, JSON (empty: not given).
  const [params, setParams] = useState<string[]>(['', '', '', ''])
  const [timeout, setTimeoutMs] = useState('10000')
  const [channel, setChannel] = useState('')
  const [answer, setAnswer] = useState<RunAnswer | null>(null)
  const [problem, setProblem] = useState<unknown>(null)
  const [paramsProblem, setParamsProblem] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)
  const channels = useResource(() => list<Channel>(PATHS.channels, { mask: 'code', limit: 1000 }), [])

  const run = async (event: Event) => {
    event.preventDefault()
    const last = params.reduce((end, text, index) => (text.trim() === '' ? end : index + 1), 0)
    const startparams: unknown[] = []
    for (let index = 0; index < last; index++) {
      const text = (params[index] as string).trim()
      if (text === '') {
        startparams.push(null)
        continue
      }
      try {
        startparams.push(JSON.parse(text))
      } catch (error) {
        setParamsProblem(`startparam(${index + 1}) is not JSON: ${(error as Error).message} (a string needs quotes)`)
        return
      }
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
        <fieldset class="startparams">
          <legend>Start parameters (JSON each; empty ones are not given)</legend>
          {params.map((text, index) => (
            <TextField
              key={index}
              label={`startparam(${index + 1})`}
              value={text}
              mono
              onInput={(value) => setParams((all) => all.map((old, at) => (at === index ? value : old)))}
              error={paramsProblem?.startsWith(`startparam(${index + 1})`) ? paramsProblem : undefined}
            />
          ))}
          {params.length < 20 && (
            <button type="button" class="small" onClick={() => setParams((all) => [...all, ''])}>
              Add startparam({params.length + 1})
            </button>
          )}
        </fieldset>
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
          output={answer.variables.result}
          outputLabel="Result"
          logs={answer.logs}
        />
      )}
      {answer && answer.status === 'ok' && (
        <details>
          <summary>All of vars</summary>
          <JsonView value={answer.variables} label="vars" />
        </details>
      )}
    </section>
  )
}

/** Every saved version of the script: its source against the current one, side by side, and a rollback. */
function VersionsPanel({
  script,
  onRolledBack,
  onError,
}: {
  script: Script
  onRolledBack: (script: Script) => void
  onError: (error: unknown) => void
}) {
  const versions = useResource(() => request<ScriptVersion[]>('GET', `${PATHS.scripts}/${script.id}/versions`), [script.id])
  const [chosen, setChosen] = useState<number | null>(null)
  const [asking, setAsking] = useState(false)
  const [busy, setBusy] = useState(false)
  const rollback = async (version: number) => {
    setAsking(false)
    setBusy(true)
    try {
      onRolledBack(await request<Script>('POST', `${PATHS.scripts}/${script.id}/rollback`, { version }))
    } catch (error) {
      onError(error)
    } finally {
      setBusy(false)
    }
  }
  return (
    <section class="panel" aria-labelledby="versions-title">
      <h2 id="versions-title">Versions</h2>
      <Loaded resource={versions}>
        {(items) => {
          const picked = items.find((item) => item.version === chosen) ?? items.find((item) => item.version !== script.version)
          return (
            <>
              <ol class="versions" aria-label="Versions">
                {items.map((item) => (
                  <li key={item.version}>
                    <button
                      type="button"
                      class={item.version === picked?.version ? 'link current' : 'link'}
                      onClick={() => setChosen(item.version)}
                    >
                      Version {item.version}
                    </button>{' '}
                    <time dateTime={item.saved_at}>{new Date(item.saved_at).toLocaleString()}</time>{' '}
                    <span class="sub">
                      by {item.actor.kind === 'root' ? 'the root key' : `${item.actor.kind} ${item.actor.id.slice(0, 8)}`}
                      {item.version === script.version && ' · current'}
                    </span>
                  </li>
                ))}
              </ol>
              {picked && picked.version !== script.version && (
                <>
                  <SideBySide
                    left={picked.source}
                    right={script.source}
                    leftLabel={`Version ${picked.version}`}
                    rightLabel={`Current (version ${script.version ?? '?'})`}
                    label="Version diff"
                  />
                  <div class="actions">
                    <button type="button" disabled={busy} onClick={() => setAsking(true)}>
                      {busy ? 'Rolling back…' : `Roll back to version ${picked.version}`}
                    </button>
                  </div>
                  <Confirm
                    open={asking}
                    title={`Roll back to version ${picked.version}?`}
                    confirm="Roll back"
                    onConfirm={() => void rollback(picked.version)}
                    onCancel={() => setAsking(false)}
                  >
                    <p>Its source becomes current again, saved as a new version; the next execution uses it.</p>
                  </Confirm>
                </>
              )}
            </>
          )
        }}
      </Loaded>
    </section>
  )
}
