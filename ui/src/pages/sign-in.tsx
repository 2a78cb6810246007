import { useState } from 'preact/hooks'
import { ApiError, endSession, PATHS, plainWords, request, type Session, saveSession } from '../api/client.ts'
import { TextField } from '../components/field.tsx'

/** Signing in is checking an API key against the API; the key is kept for this tab only. */
export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState('')
  const [domain, setDomain] = useState('')
  const [problem, setProblem] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)

  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setProblem(undefined)
    const session: Session = { key: key.trim(), domain: domain.trim() || null }
    saveSession(session)
    try {
      await request('GET', PATHS.license)
      onSignedIn(session)
    } catch (error) {
      endSession()
      setProblem(error instanceof ApiError && error.status === 401 ? 'That API key was not accepted.' : plainWords(error))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Switchboard</h1>
        <p>Sign in with an API key: the root key printed at the first start, or a key from Users &amp; keys.</p>
        <TextField
          label="API key"
          type="password"
          value={key}
          onInput={setKey}
          required
          mono
          autoFocus
          name="key"
          error={problem}
        />
        <TextField
          label="Domain (optional)"
          value={domain}
          onInput={setDomain}
          hint="The root key acts in 'default'; name another domain to work there."
          name="domain"
        />
        <button type="submit" class="primary" disabled={busy || key.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
