import { useEffect, useRef, useState } from 'preact/hooks'
import { list, PATHS } from '../api/client.ts'
import type { Channel } from '../api/types.ts'
import { useResource } from '../app/use-resource.ts'
import { Select, TextArea, TextField } from '../components/field.tsx'
import { JsonView } from '../components/json-view.tsx'
import { Empty, Loaded } from '../components/states.tsx'

const KEEP = 200
const EXPIRES_S = 3600
/** Renew well before the subscription would expire. */
const RENEW_MS = (EXPIRES_S / 2) * 1000

interface Seen {
  readonly id: string
  readonly class: string
  readonly name: string
  readonly ts: string
  readonly data: unknown
  readonly subscriptions: readonly unknown[]
}

type State =
  | { readonly kind: 'idle' }
  | { readonly kind: 'connecting' }
  | { readonly kind: 'open' }
  | { readonly kind: 'closed'; readonly why: string }

/**
 * Watches events as a client of the Token API would (SPEC §8): a websocket to a channel with the
 * `subscr` capability, a subscription, and the `event` frames as they come.
 */
export function Events() {
  const channels = useResource(
    () => list<Channel>(PATHS.channels, { mask: 'id,code,type,token_local,opts.filter_capabilities', limit: 1000 }),
    [],
  )
  const [channelId, setChannelId] = useState('')
  const [patterns, setPatterns] = useState('projectevents, channelevents')
  const [objects, setObjects] = useState('')
  const [objectsProblem, setObjectsProblem] = useState<string | undefined>()
  const [state, setState] = useState<State>({ kind: 'idle' })
  const [events, setEvents] = useState<Seen[]>([])
  const socket = useRef<WebSocket | null>(null)

  useEffect(() => () => socket.current?.close(), [])

  const connect = (channel: Channel) => {
    let filter: unknown
    if (objects.trim() !== '') {
      try {
        filter = JSON.parse(objects)
      } catch {
        setObjectsProblem('not JSON: an object such as {"collection": "integration_points"}')
        return
      }
    }
    setObjectsProblem(undefined)
    socket.current?.close()
    setState({ kind: 'connecting' })
    const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws/token/v1/${channel.token_local}`)
    socket.current = ws
    const subscribe = () =>
      ws.send(
        JSON.stringify([
          'subscribe',
          {
            qid: 'console',
            id: 'console',
            events: patterns
              .split(',')
              .map((pattern) => pattern.trim())
              .filter(Boolean),
            ...(filter !== undefined && { objects: filter }),
            expires: EXPIRES_S,
          },
        ]),
      )
    let renew: ReturnType<typeof setInterval> | undefined
    ws.onopen = () => {
      subscribe()
      renew = setInterval(subscribe, RENEW_MS)
    }
    ws.onmessage = (message) => {
      const [name, payload] = JSON.parse(String(message.data)) as [string, Record<string, unknown>]
      if (name === 'subscribe_result') {
        setState(payload.result === 'ok' ? { kind: 'open' } : { kind: 'closed', why: String(payload.error_message) })
        if (payload.result !== 'ok') ws.close()
      } else if (name === 'event') {
        setEvents((current) => [payload as unknown as Seen, ...current].slice(0, KEEP))
      } else if (name === 'error') {
        setState({ kind: 'closed', why: String(payload.error_message) })
      }
    }
    ws.onclose = (event) => {
      clearInterval(renew)
      if (socket.current !== ws) return
      setState((current) =>
        current.kind === 'closed' ? current : { kind: 'closed', why: event.reason || `closed (${event.code})` },
      )
    }
  }

  return (
    <section>
      <div class="page-head">
        <h1>Events</h1>
      </div>
      <Loaded resource={channels}>
        {({ items }) => {
          const usable = items.filter((item) =>
            item.opts.filter_capabilities.some((capability) => capability === 'subscr' || capability === '*'),
          )
          if (usable.length === 0) {
            return (
              <Empty>
                Events reach websocket clients of channels with the subscr capability. Allow it on a channel (and give the channel
                a role with /ws#subscr) to watch its events here.
              </Empty>
            )
          }
          const channel = usable.find((item) => item.id === channelId) ?? (usable[0] as Channel)
          const live = state.kind === 'open' || state.kind === 'connecting'
          return (
            <>
              <form
                class="form"
                noValidate
                onSubmit={(event) => {
                  event.preventDefault()
                  if (live) {
                    socket.current?.close()
                    socket.current = null
                    setState({ kind: 'idle' })
                  } else connect(channel)
                }}
              >
                <div class="row">
                  <Select
                    label="Channel"
                    value={channel.id}
                    onChange={setChannelId}
                    options={usable.map((item) => ({ value: item.id, label: `${item.code} (${item.type})` }))}
                    hint="an eventing channel shares each event among its connections: this one takes its turn"
                  />
                  <TextField
                    label="Events"
                    value={patterns}
                    onInput={setPatterns}
                    mono
                    hint="class or class.name, separated by commas"
                  />
                </div>
                <TextArea
                  label="Objects filter (optional)"
                  value={objects}
                  onInput={setObjects}
                  rows={2}
                  hint='JSON, e.g. {"collection": "svcscripts"}'
                  error={objectsProblem}
                />
                <div class="actions">
                  <button type="submit" class={live ? '' : 'primary'}>
                    {live ? 'Stop' : 'Watch'}
                  </button>
                  <span class="sub" role="status">
                    {state.kind === 'idle'
                      ? 'Not watching.'
                      : state.kind === 'connecting'
                        ? 'Connecting…'
                        : state.kind === 'open'
                          ? `Watching ${channel.code}.`
                          : `Stopped: ${state.why}`}
                  </span>
                  {events.length > 0 && (
                    <button type="button" class="small" onClick={() => setEvents([])}>
                      Clear
                    </button>
                  )}
                </div>
              </form>
              {events.length === 0 ? (
                <Empty>No events yet.</Empty>
              ) : (
                <ol class="tail" aria-label="Events, newest first">
                  {events.map((event) => (
                    <li key={event.id}>
                      <strong>
                        {event.class}.{event.name}
                      </strong>{' '}
                      <span class="sub">{new Date(event.ts).toLocaleTimeString()}</span>
                      <JsonView value={event.data} label={`${event.class}.${event.name} data`} />
                    </li>
                  ))}
                </ol>
              )}
            </>
          )
        }}
      </Loaded>
    </section>
  )
}
