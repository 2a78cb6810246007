import type { VerifyScheme, VerifySettings } from '../api/types.ts'
import { Select, TextField } from '../components/field.tsx'

const SCHEMES: readonly { value: VerifyScheme | ''; label: string }[] = [
  { value: '', label: '— no check —' },
  { value: 'standard-webhooks', label: 'Standard Webhooks (Svix, Clerk, Resend, …)' },
  { value: 'stripe', label: 'Stripe' },
  { value: 'github', label: 'GitHub' },
  { value: 'slack', label: 'Slack' },
  { value: 'hmac', label: 'Other HMAC (name the header)' },
]

/** The schemes whose signatures carry a timestamp (the server refuses tolerance_s on the others). */
const TIMESTAMPED: ReadonlySet<VerifyScheme> = new Set(['standard-webhooks', 'stripe', 'slack'])

const SECRET_HINT: Record<VerifyScheme, string> = {
  'standard-webhooks': "the endpoint's signing secret, whsec_…",
  stripe: "the endpoint's signing secret from the Stripe dashboard, whsec_…",
  github: "the webhook's secret",
  slack: "the app's signing secret",
  hmac: 'the shared secret',
}

/**
 * The channel's `opts.verify` (docs/webhooks.md, "Verifying senders"). The secrets are
 * write-only: the server sends them masked, and a masked value sent back keeps the stored one,
 * so saving the form unchanged keeps them.
 */
export function VerifySignatures({
  value,
  onChange,
  about,
}: {
  value: VerifySettings | undefined
  onChange: (next: VerifySettings | undefined) => void
  about: (field: string) => string | undefined
}) {
  const pick = (scheme: string) => {
    if (scheme === '') return onChange(undefined)
    const next: VerifySettings = { scheme: scheme as VerifyScheme, secrets: value?.secrets ?? [''] }
    if (scheme === 'hmac') next.header = value?.header ?? ''
    onChange(next)
  }
  const secretsError = about('opts.verify.secrets') ?? about('opts.verify.secrets.0') ?? about('opts.verify')
  const setSecret = (index: number, secret: string) => {
    if (!value) return
    const secrets = [value.secrets[0] ?? '', value.secrets[1] ?? '']
    secrets[index] = secret
    onChange({ ...value, secrets: secrets[1] === '' ? [secrets[0] as string] : secrets })
  }
  const set = <K extends keyof VerifySettings>(key: K, next: VerifySettings[K] | undefined) => {
    if (!value) return
    const copy = { ...value }
    if (next === undefined) delete copy[key]
    else copy[key] = next
    onChange(copy)
  }
  return (
    <fieldset>
      <legend>Verify signatures</legend>
      <Select
        label="Signature scheme"
        value={value?.scheme ?? ''}
        onChange={pick}
        options={SCHEMES}
        hint="webhooks without a valid signature are refused (1401) before any script runs"
        error={about('opts.verify.scheme')}
      />
      {value && (
        <>
          <TextField
            label="Signing secret"
            value={value.secrets[0] ?? ''}
            onInput={(secret) => setSecret(0, secret)}
            type="password"
            mono
            hint={`${SECRET_HINT[value.scheme]}; write-only: shown masked once saved`}
            error={secretsError}
          />
          <TextField
            label="Previous secret (during a rotation)"
            value={value.secrets[1] ?? ''}
            onInput={(secret) => setSecret(1, secret)}
            type="password"
            mono
            hint="optional: webhooks signed with either secret pass until you clear it"
            error={about('opts.verify.secrets.1')}
          />
          {TIMESTAMPED.has(value.scheme) && (
            <TextField
              label="Timestamp tolerance (seconds)"
              type="number"
              value={value.tolerance_s === undefined ? '' : String(value.tolerance_s)}
              onInput={(text) => set('tolerance_s', text === '' ? undefined : Number(text))}
              hint="how old a signed timestamp may be; empty = 300"
              error={about('opts.verify.tolerance_s')}
            />
          )}
          {value.scheme === 'hmac' && (
            <>
              <TextField
                label="Signature header"
                value={value.header ?? ''}
                onInput={(header) => set('header', header)}
                placeholder="X-Signature"
                mono
                error={about('opts.verify.header')}
              />
              <TextField
                label="Signature prefix"
                value={value.prefix ?? ''}
                onInput={(prefix) => set('prefix', prefix === '' ? undefined : prefix)}
                placeholder="sha256="
                mono
                hint="text before the signature in the header, if any"
                error={about('opts.verify.prefix')}
              />
              <Select
                label="Algorithm"
                value={value.algorithm ?? 'sha256'}
                onChange={(algorithm) => set('algorithm', algorithm as VerifySettings['algorithm'])}
                options={['sha256', 'sha1', 'sha512']}
              />
              <Select
                label="Encoding"
                value={value.encoding ?? 'hex'}
                onChange={(encoding) => set('encoding', encoding as VerifySettings['encoding'])}
                options={['hex', 'base64']}
              />
            </>
          )}
        </>
      )}
    </fieldset>
  )
}
