import { Checkbox } from './field.tsx'

/** `admin` (built in), the domain's roles, and any code already held that names none of them. */
export function roleChoices(known: readonly string[], held: readonly string[]): string[] {
  return [...new Set(['admin', ...known, ...held])]
}

/** The roles someone holds, as checkboxes of the codes there are (SPEC §10). */
export function RolePicker({
  legend,
  choices,
  value,
  onChange,
  error,
  id,
}: {
  legend: string
  choices: readonly string[]
  value: readonly string[]
  onChange: (roles: string[]) => void
  error?: string | undefined
  id?: string
}) {
  const errorId = id ? `${id}-error` : undefined
  return (
    <fieldset class={error ? 'plain-set invalid' : 'plain-set'} id={id} aria-describedby={error ? errorId : undefined}>
      <legend>{legend}</legend>
      <div class="checks">
        {choices.map((code) => (
          <Checkbox
            key={code}
            label={code}
            checked={value.includes(code)}
            onChange={(on) => onChange(on ? [...value, code] : value.filter((held) => held !== code))}
          />
        ))}
      </div>
      {error && (
        <span class="field-error" id={errorId} role="alert">
          {error}
        </span>
      )}
    </fieldset>
  )
}
