import { useState } from 'preact/hooks'
import { ApiError, list, PATHS, plainWords, request } from '../api/client.ts'
import type { Channel, ChannelOpts, Script, User } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { navigate } from '../app/router.ts'
import { useResource } from '../app/use-resource.ts'
import { Confirm } from '../components/confirm.tsx'
import { CopyButton } from '../components/copy-button.tsx'
import { DeleteEntity } from '../components/delete-entity.tsx'
import { Checkbox, Field, Select, TextArea, TextField } from '../components/field.tsx'
import { ErrorNote, Loaded } from '../components/states.tsx'
import { ChannelTrafficPanel } from '../inspector/channel-traffic.tsx'
import { DeliveryCounts } from './delivery-counts.tsx'
import { VerifySignatures } from './verify-signatures.tsx'

const CAPABILITIES = ['svcscript', 'subscr', 'files', 'rest'] as const

/** What the form edits: the channel's fields as text where people type them. */
interface Draft {
  code: string
  type: string
  url: string
  token_remote: string
  token_remote2: string
  ipmask: string
  recv_svcscriptcode: string
  send_svcscriptcode: string
  recv_svcscriptcode_ws: string
  send_svcscriptcode_ws: string
  opts: ChannelOpts
}

const EMPTY: Draft = {
  code: '',
  type: 'public',
  url: '',
  token_remote: '',
  token_remote2: '',
  ipmask: '',
  recv_svcscriptcode: '',
  send_svcscriptcode: '',
  recv_svcscriptcode_ws: '',
  send_svcscriptcode_ws: '',
  opts: {
    allow_files_api: false,
    comment: '',
    // Async, as the API and the CLI create a channel when the mode is not given.
    issync: false,
    recv_timeout: 0,
    roles: [],
    userid: null,
    title: '',
    filter_capabilities: [],
  },
}

function draftOf(channel: Channel): Draft {
  return {
    code: channel.code,
    type: channel.type,
    url: channel.url,
    token_remote: channel.token_remote,
    token_remote2: channel.token_remote2,
    ipmask: channel.ipmask.join('\n'),
    recv_svcscriptcode: channel.recv_svcscriptcode,
    send_svcscriptcode: channel.send_svcscriptcode,
    recv_svcscriptcode_ws: channel.recv_svcscriptcode_ws,
    send_svcscriptcode_ws: channel.send_svcscriptcode_ws,
    opts: { ...channel.opts },
  }
}

function bodyOf(draft: Draft): Record<string, unknown> {
  const scripts =
    draft.type === 'eventing'
      ? {}
      : {
          recv_svcscriptcode: draft.recv_svcscriptcode,
          send_svcscriptcode: draft.send_svcscriptcode,
          recv_svcscriptcode_ws: draft.recv_svcscriptcode_ws,
          send_svcscriptcode_ws: draft.send_svcscriptcode_ws,
        }
  return {
    code: draft.code.trim(),
    type: draft.type.trim(),
    url: draft.url.trim(),
    token_remote: draft.token_remote,
    token_remote2: draft.token_remote2,
    ipmask: draft.ipmask
      .split(/[\n,]/)
      .map((entry) => entry.trim())
      .filter(Boolean),
    ...scripts,
    // null turns a check off; a channel without one sends nothing it does not have.
    opts: { ...draft.opts, verify: draft.opts.verify ?? null },
  }
}

export function ChannelEdit({ id }: { id: string }) {
  const creating = id === 'new'
  const channel = useResource(() => (creating ? Promise.resolve(null) : request<Channel>('GET', `${PATHS.channels}/${id}`)), [id])
  return (
    <section>
      <p class="crumbs">
        <Link href="/channels">Channels</Link> /
      </p>
      <Loaded resource={channel}>
        {(found) => <ChannelForm key={found?.id ?? 'new'} channel={found} onSaved={channel.reload} />}
      </Loaded>
    </section>
  )
}

function ChannelForm({ channel, onSaved }: { channel: Channel | null; onSaved: () => void }) {
  const [draft, setDraft] = useState<Draft>(channel ? draftOf(channel) : EMPTY)
  const [problem, setProblem] = useState<unknown>(null)
  const [saved, setSaved] = useState(false)
  const [busy, setBusy] = useState(false)
  const scripts = useResource(() => list<Script>(PATHS.scripts, { mask: 'code', limit: 1000 }), [])
  const users = useResource(() => list<User>(PATHS.users, { mask: 'id,login', limit: 1000 }), [])
  const about = (field: string) => (problem instanceof ApiError ? problem.about(field) : undefined)
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    setSaved(false)
    setDraft((current) => ({ ...current, [key]: value }))
  }
  const setOpt = <K extends keyof ChannelOpts>(key: K, value: ChannelOpts[K]) => set('opts', { ...draft.opts, [key]: value })

  const save = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setProblem(null)
    try {
      const stored = channel
        ? await request<Channel>('PATCH', `${PATHS.channels}/${channel.id}`, bodyOf(draft))
        : await request<Channel>('POST', PATHS.channels, bodyOf(draft))
      if (channel) {
        setDraft(draftOf(stored))
        setSaved(true)
        onSaved()
      } else navigate(`/channels/${stored.id}`)
    } catch (error) {
      setProblem(error)
    } finally {
      setBusy(false)
    }
  }

  const scriptOptions =
    scripts.state === 'ready'
      ? [{ value: '', label: '— none —' }, ...scripts.data.items.map((script) => script.code)]
      : [{ value: '', label: '— none —' }]
  const scriptSelect = (
    field: 'recv_svcscriptcode' | 'send_svcscriptcode' | 'recv_svcscriptcode_ws' | 'send_svcscriptcode_ws',
    label: string,
    hint: string,
  ) => {
    const value = draft[field]
    const options =
      value && !scriptOptions.some((option) => (typeof option === 'string' ? option : option.value) === value)
        ? [...scriptOptions, value]
        : scriptOptions
    return (
      <Select
        label={label}
        value={value}
        onChange={(next) => set(field, next)}
        options={options}
        hint={hint}
        error={about(field)}
      />
    )
  }

  return (
    <>
      <div class="page-head">
        <h1>{channel ? channel.code : 'New channel'}</h1>
        {channel && (
          <div class="actions">
            <Link href={`/tester?channel=${channel.id}`} class="button">
              Test a webhook
            </Link>
            <Link href={`/executions?channel=${channel.id}`} class="button">
              Executions
            </Link>
            <Link href={`/deliveries?channel=${channel.id}`} class="button">
              Deliveries
            </Link>
            <Link href={`/audit?entity=${channel.id}`} class="button">
              History
            </Link>
          </div>
        )}
      </div>
      {channel && <ChannelTrafficPanel channelId={channel.id} />}
      {channel && <TokenPanel channel={channel} onRotated={onSaved} />}
      {channel && <DeliveryCounts channelId={channel.id} />}
      <form class="form" onSubmit={save} noValidate>
        {problem !== null && <ErrorNote error={problem} />}
        {saved && (
          <p class="note ok" role="status">
            Saved.
          </p>
        )}
        <fieldset>
          <legend>Channel</legend>
          <TextField
            label="Code"
            value={draft.code}
            onInput={(value) => set('code', value)}
            required
            error={about('code')}
            hint="1–64 letters, digits, _ . -; scripts address the channel by it"
            mono
          />
          <Field label="Type" error={about('type')} hint="public, eventing, or a type the master defined">
            {(inputId, described) => (
              <>
                <input
                  id={inputId}
                  list="channel-types"
                  value={draft.type}
                  aria-describedby={described}
                  aria-invalid={about('type') ? true : undefined}
                  onInput={(event) => set('type', (event.currentTarget as HTMLInputElement).value)}
                />
                <datalist id="channel-types">
                  <option value="public" />
                  <option value="eventing" />
                </datalist>
              </>
            )}
          </Field>
          <TextField
            label="Title"
            value={draft.opts.title}
            onInput={(value) => setOpt('title', value)}
            error={about('opts.title')}
          />
          <TextArea
            label="Comment"
            value={draft.opts.comment}
            onInput={(value) => setOpt('comment', value)}
            rows={2}
            mono={false}
            error={about('opts.comment')}
          />
        </fieldset>
        {draft.type !== 'eventing' && (
          <fieldset>
            <legend>Scripts</legend>
            {scriptSelect('recv_svcscriptcode', 'Webhook script', 'answers /exec (recv_svcscriptcode)')}
            {scriptSelect(
              'recv_svcscriptcode_ws',
              'Websocket message script',
              'answers "message" frames (recv_svcscriptcode_ws)',
            )}
            {scriptSelect('send_svcscriptcode', 'Send script', 'runs for channels.send (send_svcscriptcode)')}
            {scriptSelect('send_svcscriptcode_ws', 'Push script', 'may reshape ws.send pushes (send_svcscriptcode_ws)')}
          </fieldset>
        )}
        <fieldset>
          <legend>Behaviour</legend>
          <Checkbox
            label="Sync webhooks (wait for the script's answer)"
            checked={draft.opts.issync}
            onChange={(value) => setOpt('issync', value)}
          />
          <TextField
            label="Timeout (seconds)"
            type="number"
            value={String(draft.opts.recv_timeout)}
            onInput={(value) => setOpt('recv_timeout', value === '' ? 0 : Number(value))}
            hint="0–60; 0 means the default, 10 s"
            error={about('opts.recv_timeout')}
          />
          <Field
            label="Websocket capabilities"
            hint="the token also needs a role with /ws#<capability> (or admin), below or on its user"
            error={about('opts.filter_capabilities')}
          >
            {(inputId) => (
              <div class="checks" id={inputId}>
                {[...CAPABILITIES, '*'].map((capability) => (
                  <Checkbox
                    key={capability}
                    label={capability === '*' ? 'all' : capability}
                    checked={draft.opts.filter_capabilities.includes(capability)}
                    onChange={(on) =>
                      setOpt(
                        'filter_capabilities',
                        on
                          ? [...draft.opts.filter_capabilities, capability]
                          : draft.opts.filter_capabilities.filter((item) => item !== capability),
                      )
                    }
                  />
                ))}
              </div>
            )}
          </Field>
          <Checkbox
            label="Files API for token holders"
            checked={draft.opts.allow_files_api}
            onChange={(value) => setOpt('allow_files_api', value)}
          />
          <TextArea
            label="IP mask"
            value={draft.ipmask}
            onInput={(value) => set('ipmask', value)}
            rows={2}
            hint="addresses or CIDR ranges allowed to use the token, one per line; empty = any"
            error={about('ipmask')}
          />
        </fieldset>
        {draft.type !== 'eventing' && (
          <VerifySignatures value={draft.opts.verify} onChange={(next) => setOpt('verify', next)} about={about} />
        )}
        <fieldset>
          <legend>External system</legend>
          <TextField
            label="URL"
            value={draft.url}
            onInput={(value) => set('url', value)}
            placeholder="https://api.example.com/"
            error={about('url')}
            mono
            hint="base for relative http.request paths"
          />
          <TextField
            label="Remote token"
            value={draft.token_remote}
            onInput={(value) => set('token_remote', value)}
            type="password"
            error={about('token_remote')}
            mono
          />
          <TextField
            label="Second remote token"
            value={draft.token_remote2}
            onInput={(value) => set('token_remote2', value)}
            type="password"
            error={about('token_remote2')}
            mono
          />
        </fieldset>
        <fieldset>
          <legend>Access</legend>
          <Select
            label="Acts as user"
            value={draft.opts.userid ?? ''}
            onChange={(value) => setOpt('userid', value || null)}
            options={[
              { value: '', label: '— nobody —' },
              ...(users.state === 'ready' ? users.data.items.map((user) => ({ value: user.id, label: user.login })) : []),
            ]}
            hint="opts.userid: whose rights the channel's scripts and model events use"
            error={about('opts.userid')}
          />
          <TextField
            label="Roles"
            value={draft.opts.roles.join(', ')}
            onInput={(value) =>
              setOpt(
                'roles',
                value
                  .split(',')
                  .map((role) => role.trim())
                  .filter(Boolean),
              )
            }
            hint="role codes granted to the token, separated by commas"
            error={about('opts.roles')}
          />
        </fieldset>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Saving…' : channel ? 'Save changes' : 'Create channel'}
          </button>
          {channel && (
            <DeleteEntity
              path={`${PATHS.channels}/${channel.id}`}
              title={`Delete channel ${channel?.code}?`}
              backTo="/channels"
              onError={setProblem}
            >
              Its token stops working at once and its connections are closed.
            </DeleteEntity>
          )}
        </div>
      </form>
    </>
  )
}

function TokenPanel({ channel, onRotated }: { channel: Channel; onRotated: () => void }) {
  // The server masks a channel's secrets for callers who may not change it or lack its token's rights (docs/iam.md).
  if (channel.token_local.includes('…')) {
    return (
      <section class="panel" aria-labelledby="token-title">
        <h2 id="token-title">Token</h2>
        <p class="note">
          <code class="token">{channel.token_local}</code> — masked: a channel's token is shown only to those who may change the
          channel and hold at least the rights its token has.
        </p>
      </section>
    )
  }
  return <TokenDetails channel={channel} onRotated={onRotated} />
}

function TokenDetails({ channel, onRotated }: { channel: Channel; onRotated: () => void }) {
  const [shown, setShown] = useState(false)
  const [asking, setAsking] = useState(false)
  const [problem, setProblem] = useState<unknown>(null)
  const token = channel.token_local
  const masked = `${token.slice(0, 4)}${'•'.repeat(Math.max(token.length - 8, 4))}${token.slice(-4)}`
  const origin = location.origin
  // Snippets show the token as the panel does; their Copy buttons copy the real one.
  const curl = (value: string) =>
    `curl -sS -X POST ${origin}/exec -H "Authorization: Bearer ${value}" \\\n  -H 'Content-Type: application/json' -d '{"hello": "world"}'`
  const socket = (value: string) => `${origin.replace(/^http/, 'ws')}/ws/token/v1/${value}`
  const shownToken = shown ? token : masked

  const rotate = async () => {
    setAsking(false)
    try {
      await request('PATCH', `${PATHS.channels}/${channel.id}`, { token_local: null })
      onRotated()
    } catch (error) {
      setProblem(error)
    }
  }

  return (
    <section class="panel" aria-labelledby="token-title">
      <h2 id="token-title">Token</h2>
      {problem !== null && <p class="note error">{plainWords(problem)}</p>}
      <div class="token-row">
        <span class="visually-hidden">Channel token:</span>
        <code class="token">{shownToken}</code>
        <button type="button" class="small" onClick={() => setShown(!shown)}>
          {shown ? 'Hide' : 'Show'}
        </button>
        <CopyButton text={token} />
        <button type="button" class="small danger" onClick={() => setAsking(true)}>
          Rotate
        </button>
      </div>
      <h3>Send a webhook</h3>
      <div class="snippet">
        <pre class="mono">{curl(shownToken)}</pre>
        <CopyButton text={curl(token)} />
      </div>
      <h3>Open a websocket</h3>
      <div class="snippet">
        <pre class="mono">{socket(shownToken)}</pre>
        <CopyButton text={socket(token)} />
      </div>
      <Confirm
        open={asking}
        title="Rotate the token?"
        confirm="Rotate"
        danger
        onConfirm={rotate}
        onCancel={() => setAsking(false)}
      >
        The current token stops working on the very next request, and open websocket connections with it are closed. Senders need
        the new token.
      </Confirm>
    </section>
  )
}
