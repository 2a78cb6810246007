import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { type Session, saveSession } from '../api/client.ts'
import { Link } from './link.tsx'

const PAGES = [
  ['/channels', 'Channels'],
  ['/scripts', 'Scripts'],
  ['/executions', 'Executions'],
  ['/deliveries', 'Deliveries'],
  ['/live', 'Live'],
  ['/events', 'Events'],
  ['/tester', 'Webhook tester'],
  ['/files', 'Files'],
  ['/users', 'Users & keys'],
  ['/roles', 'Roles'],
  ['/audit', 'Audit log'],
] as const

/** The frame of every page: navigation, the domain acted in, sign-out. */
export function Shell({
  path,
  session,
  onSignOut,
  children,
}: {
  path: string
  session: Session
  onSignOut: () => void
  children: ComponentChildren
}) {
  const [menu, setMenu] = useState(false)
  // The folded menu (phone width) closes once a page is chosen.
  useEffect(() => setMenu(false), [path])
  const [domain, setDomain] = useState(session.domain ?? '')
  return (
    <div class="shell">
      <header class="top">
        <Link href="/channels" class="brand">
          Switchboard
        </Link>
        <button type="button" class="menu-toggle" aria-expanded={menu} aria-controls="nav" onClick={() => setMenu(!menu)}>
          Menu
        </button>
        <form
          class="domain"
          onSubmit={(event) => {
            event.preventDefault()
            saveSession({ key: session.key, domain: domain.trim() || null })
            location.reload()
          }}
        >
          <label for="domain">Domain</label>
          <input
            id="domain"
            value={domain}
            placeholder="default"
            title="The domain the root key acts in; empty: default"
            size={10}
            onInput={(event) => setDomain((event.currentTarget as HTMLInputElement).value)}
          />
        </form>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <nav id="nav" class={menu ? 'side open' : 'side'} aria-label="Pages">
        <ul>
          {PAGES.map(([href, label]) => (
            <li key={href}>
              <Link href={href} current={path === href || path.startsWith(`${href}/`)}>
                {label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">{children}</main>
    </div>
  )
}
