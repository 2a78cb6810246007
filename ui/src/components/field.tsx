import type { ComponentChildren } from 'preact'
import { useId } from 'preact/hooks'

interface FieldProps {
  readonly label: string
  readonly hint?: string | undefined
  readonly error?: string | undefined
  readonly children: (id: string, described: string | undefined) => ComponentChildren
}

/** A labelled form field with its hint and the API's message about it. */
export function Field({ label, hint, error, children }: FieldProps) {
  const id = useId()
  const described = error ? `${id}-error` : hint ? `${id}-hint` : undefined
  return (
    <div class={error ? 'field invalid' : 'field'}>
      <label for={id}>{label}</label>
      {children(id, described)}
      {error ? (
        <span class="field-error" id={`${id}-error`} role="alert">
          {error}
        </span>
      ) : (
        hint && (
          <span class="hint" id={`${id}-hint`}>
            {hint}
          </span>
        )
      )}
    </div>
  )
}

interface TextProps {
  readonly label: string
  readonly value: string
  readonly onInput: (value: string) => void
  readonly hint?: string
  readonly error?: string | undefined
  readonly placeholder?: string
  readonly required?: boolean
  readonly type?: 'text' | 'password' | 'number' | 'search' | 'url' | 'datetime-local'
  readonly mono?: boolean
  readonly name?: string
  readonly autoFocus?: boolean
}

export function TextField({
  label,
  value,
  onInput,
  hint,
  error,
  placeholder,
  required,
  type = 'text',
  mono,
  name,
  autoFocus,
}: TextProps) {
  return (
    <Field label={label} hint={hint} error={error}>
      {(id, described) => (
        <input
          id={id}
          name={name}
          // Preact types each input type apart (role rules); any of ours is a plain text-like input.
          type={type as 'text'}
          class={mono ? 'mono' : undefined}
          value={value}
          placeholder={placeholder}
          required={required}
          // Only the sign-in page asks for it: its one field is where everyone starts.
          // biome-ignore lint/a11y/noAutofocus: see above
          autoFocus={autoFocus}
          aria-invalid={error ? true : undefined}
          aria-describedby={described}
          onInput={(event) => onInput((event.currentTarget as HTMLInputElement).value)}
        />
      )}
    </Field>
  )
}

export function Checkbox({
  label,
  checked,
  onChange,
  hint,
}: {
  label: string
  checked: boolean
  onChange: (checked: boolean) => void
  hint?: string
}) {
  const id = useId()
  return (
    <div class="field check">
      <input
        id={id}
        type="checkbox"
        checked={checked}
        onChange={(event) => onChange((event.currentTarget as HTMLInputElement).checked)}
      />
      <label for={id}>{label}</label>
      {hint && <span class="hint">{hint}</span>}
    </div>
  )
}

interface SelectProps {
  readonly label: string
  readonly value: string
  readonly options: readonly (string | { value: string; label: string })[]
  readonly onChange: (value: string) => void
  readonly hint?: string
  readonly error?: string | undefined
}

export function Select({ label, value, options, onChange, hint, error }: SelectProps) {
  return (
    <Field label={label} hint={hint} error={error}>
      {(id, described) => (
        <select
          id={id}
          value={value}
          aria-invalid={error ? true : undefined}
          aria-describedby={described}
          onChange={(event) => onChange((event.currentTarget as HTMLSelectElement).value)}
        >
          {options.map((option) => {
            const { value: optionValue, label: optionLabel } =
              typeof option === 'string' ? { value: option, label: option || '—' } : option
            return (
              <option key={optionValue} value={optionValue}>
                {optionLabel}
              </option>
            )
          })}
        </select>
      )}
    </Field>
  )
}

export function TextArea({
  label,
  value,
  onInput,
  hint,
  error,
  rows = 6,
  mono = true,
}: Omit<TextProps, 'type'> & { rows?: number }) {
  return (
    <Field label={label} hint={hint} error={error}>
      {(id, described) => (
        <textarea
          id={id}
          rows={rows}
          class={mono ? 'mono' : undefined}
          value={value}
          aria-invalid={error ? true : undefined}
          aria-describedby={described}
          onInput={(event) => onInput((event.currentTarget as HTMLTextAreaElement).value)}
        />
      )}
    </Field>
  )
}
