import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { currentSession, endSession, type Session, whenUnauthorized } from './api/client.ts'
import { matchPath, navigate, useRoute } from './app/router.ts'
import { Shell } from './app/shell.tsx'
import { Audit } from './pages/audit.tsx'
import { ChannelEdit } from './pages/channel-edit.tsx'
import { Channels } from './pages/channels.tsx'
import { Deliveries } from './pages/deliveries.tsx'
import { Events } from './pages/events.tsx'
import { ExecutionDetail } from './pages/execution-detail.tsx'
import { Executions } from './pages/executions.tsx'
import { Files } from './pages/files.tsx'
import { Live } from './pages/live.tsx'
import { RoleEdit } from './pages/role-edit.tsx'
import { Roles } from './pages/roles.tsx'
import { ScriptEdit } from './pages/script-edit.tsx'
import { Scripts } from './pages/scripts.tsx'
import { SignIn } from './pages/sign-in.tsx'
import { Tester } from './pages/tester.tsx'
import { Users } from './pages/users.tsx'
import './styles.css'

/** Pages with an id in their path: `/channels/<id>` and so on (`new` creates). */
const DETAIL_PAGES = [
  ['/channels/:id', (id: string) => <ChannelEdit id={id} />],
  ['/scripts/:id', (id: string) => <ScriptEdit id={id} />],
  ['/executions/:id', (id: string, query: URLSearchParams) => <ExecutionDetail id={id} query={query} />],
  ['/roles/:id', (id: string) => <RoleEdit id={id} />],
] as const

function Page({ path, query }: { path: string; query: URLSearchParams }) {
  if (path === '/' || path === '/channels') return <Channels />
  if (path === '/scripts') return <Scripts />
  if (path === '/executions') return <Executions query={query} />
  if (path === '/deliveries') return <Deliveries query={query} />
  for (const [pattern, page] of DETAIL_PAGES) {
    const params = matchPath(pattern, path)
    if (params) return page(params.id as string, query)
  }
  if (path === '/live') return <Live />
  if (path === '/events') return <Events />
  if (path === '/tester') return <Tester query={query} />
  if (path === '/files') return <Files query={query} />
  if (path === '/users') return <Users />
  if (path === '/roles') return <Roles />
  if (path === '/audit') return <Audit query={query} />
  return (
    <section>
      <h1>Not found</h1>
      <p>There is no page at {path}.</p>
    </section>
  )
}

function App() {
  const { path, query } = useRoute()
  const [session, setSession] = useState<Session | null>(currentSession())
  useEffect(() => {
    whenUnauthorized(() => {
      endSession()
      setSession(null)
    })
  }, [])
  useEffect(() => {
    const title = path.split('/')[1] ?? ''
    document.title = title ? `${title[0]?.toUpperCase()}${title.slice(1)} · Switchboard` : 'Switchboard'
  }, [path])
  if (!session) return <SignIn onSignedIn={(started) => setSession(started)} />
  return (
    <Shell
      path={path}
      session={session}
      onSignOut={() => {
        endSession()
        setSession(null)
        navigate('/', { replace: true })
      }}
    >
      <Page path={path} query={query} />
    </Shell>
  )
}

render(<App />, document.getElementById('app') as HTMLElement)
