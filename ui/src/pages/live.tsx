import { useEffect, useRef, useState } from 'preact/hooks'
import { channelNames } from '../api/channel-names.ts'
import { list, PATHS, plainWords, request } from '../api/client.ts'
import type { Connection, Execution } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { Empty } from '../components/states.tsx'
import { Ago, StatusBadge } from '../components/status-badge.tsx'

const EVERY_MS = 1500
const KEEP = 200
/** Records are written when runs end, in batches: look back this far so a slow run is not missed. */
const LOOK_BACK_MS = 60_000

/** A tail of executions and the live websocket connections, polled from the REST API. */
export function Live() {
  const [executions, setExecutions] = useState<Execution[]>([])
  const [connections, setConnections] = useState<Connection[] | null>(null)
  const [names, setNames] = useState<Map<string, string>>(new Map())
  const [paused, setPaused] = useState(false)
  const [problem, setProblem] = useState<string | null>(null)
  const since = useRef(new Date(Date.now() - 10 * 60_000).toISOString())

  useEffect(() => {
    if (paused) return
    let stopped = false
    const tick = async () => {
      try {
        const [{ items }, live, channels] = await Promise.all([
          list<Execution>(PATHS.executions, {
            since: since.current,
            limit: KEEP,
            mask: 'id,channel_id,script_code,trigger,status,started_at,duration_ms,error.message',
          }),
          request<Connection[]>('GET', PATHS.connections),
          channelNames(),
        ])
        if (stopped) return
        setNames(channels)
        setConnections(live)
        setProblem(null)
        if (items.length > 0) {
          const newest = items[0]?.started_at as string
          since.current = new Date(Math.max(Date.parse(newest) - LOOK_BACK_MS, Date.parse(since.current))).toISOString()
          setExecutions((current) => {
            const byId = new Map(current.map((execution) => [execution.id, execution]))
            for (const execution of items) byId.set(execution.id, execution)
            return [...byId.values()].sort((a, b) => b.started_at.localeCompare(a.started_at)).slice(0, KEEP)
          })
        }
      } catch (error) {
        if (!stopped) setProblem(plainWords(error))
      }
    }
    void tick()
    const timer = setInterval(tick, EVERY_MS)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [paused])

  const byChannel = new Map<string, Connection[]>()
  for (const connection of connections ?? []) {
    const group = byChannel.get(connection.channel_code)
    if (group) group.push(connection)
    else byChannel.set(connection.channel_code, [connection])
  }

  return (
    <section>
      <div class="page-head">
        <h1>Live</h1>
        <button type="button" onClick={() => setPaused(!paused)} aria-pressed={paused}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </div>
      <p class="sub" role="status">
        {paused ? 'Paused.' : problem ? `Not updating: ${problem}` : `Updating every ${EVERY_MS / 1000} s.`}
      </p>
      <div class="columns">
        <div>
          <h2>Executions</h2>
          {executions.length === 0 ? (
            <Empty>Nothing ran in the last ten minutes. Executions appear here as they finish.</Empty>
          ) : (
            <ol class="tail" aria-label="Executions, newest first">
              {executions.map((execution) => (
                <li key={execution.id}>
                  <StatusBadge status={execution.status} />{' '}
                  <Link href={`/executions/${execution.id}`}>{execution.script_code}</Link>{' '}
                  <span class="sub">
                    {execution.trigger}
                    {execution.channel_id && ` · ${names.get(execution.channel_id) ?? 'deleted channel'}`} ·{' '}
                    {execution.duration_ms} ms · <Ago at={execution.started_at} />
                  </span>
                  {execution.error?.message && <div class="sub clip">{execution.error.message}</div>}
                </li>
              ))}
            </ol>
          )}
        </div>
        <div>
          <h2>Websocket connections</h2>
          {connections === null ? null : byChannel.size === 0 ? (
            <Empty>No websocket is connected.</Empty>
          ) : (
            [...byChannel].map(([code, group]) => (
              <div key={code} class="panel">
                <h3>
                  {code} <span class="sub">{group.length} connected</span>
                </h3>
                <ul class="plain">
                  {group.map((connection) => (
                    <li key={connection.id} class="small">
                      <span class="mono">{connection.id.slice(0, 8)}</span> from {connection.ip},{' '}
                      <Ago at={connection.opened_at} />
                    </li>
                  ))}
                </ul>
              </div>
            ))
          )}
        </div>
      </div>
    </section>
  )
}
