import { useState } from 'preact/hooks'
import { channelNames } from '../api/channel-names.ts'
import { PATHS, request } from '../api/client.ts'
import type { Execution } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { navigate } from '../app/router.ts'
import { useResource } from '../app/use-resource.ts'
import { JsonView } from '../components/json-view.tsx'
import { RunResult } from '../components/run-result.tsx'
import { ErrorNote, Loaded } from '../components/states.tsx'

export function ExecutionDetail({ id }: { id: string }) {
  const execution = useResource(() => request<Execution>('GET', `${PATHS.executions}/${id}`), [id])
  const names = useResource(channelNames, [])
  const [problem, setProblem] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)

  const replay = async () => {
    setBusy(true)
    setProblem(null)
    try {
      const replayed = await request<Execution>('POST', `${PATHS.executions}/${id}/replay`)
      navigate(`/executions/${replayed.id}`)
    } catch (error) {
      setProblem(error)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section>
      <p class="crumbs">
        <Link href="/executions">Executions</Link> /
      </p>
      <Loaded resource={execution}>
        {(found) => (
          <>
            <div class="page-head">
              <h1>
                Execution <span class="mono">{found.id.slice(0, 8)}</span>
              </h1>
              <button type="button" class="primary" onClick={replay} disabled={busy}>
                {busy ? 'Replaying…' : 'Replay'}
              </button>
            </div>
            {problem !== null && <ErrorNote error={problem} />}
            <dl class="facts">
              <dt>Script</dt>
              <dd class="mono">{found.script_code}</dd>
              <dt>Trigger</dt>
              <dd>{found.trigger}</dd>
              <dt>Started</dt>
              <dd>
                <time dateTime={found.started_at}>{new Date(found.started_at).toLocaleString()}</time>
              </dd>
              <dt>Channel</dt>
              <dd>
                {found.channel_id ? (
                  <Link href={`/channels/${found.channel_id}`}>
                    {(names.state === 'ready' && names.data.get(found.channel_id)) || found.channel_id.slice(0, 8)}
                  </Link>
                ) : (
                  '—'
                )}
              </dd>
              {found.replay_of && (
                <>
                  <dt>Replay of</dt>
                  <dd>
                    <Link href={`/executions/${found.replay_of}`}>{found.replay_of.slice(0, 8)}</Link>
                  </dd>
                </>
              )}
              <dt>Id</dt>
              <dd class="mono small">{found.id}</dd>
            </dl>
            <RunResult
              id={found.id}
              status={found.status}
              durationMs={found.duration_ms}
              error={found.error}
              output={found.output}
              logs={found.logs}
              outputLabel="Output"
            />
            <h3>Input</h3>
            <JsonView value={found.input} label="Input" />
            {found.attempts && (
              <>
                <h3>Attempts</h3>
                <ol class="attempts">
                  {found.attempts.map((attempt) => (
                    <li key={attempt.at}>
                      {new Date(attempt.at).toLocaleString()} — {attempt.status} in {attempt.duration_ms} ms
                      {attempt.error && `: ${attempt.error.message}`}
                    </li>
                  ))}
                </ol>
              </>
            )}
          </>
        )}
      </Loaded>
    </section>
  )
}
