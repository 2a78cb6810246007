/** A JSON value, indented, for reading (inputs, outputs, variables). */
export function JsonView({ value, label }: { value: unknown; label?: string }) {
  const text = value === undefined ? '—' : typeof value === 'string' ? value : JSON.stringify(value, null, 2)
  return (
    <section class="json-view" aria-label={label ?? 'JSON'}>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll it by keyboard */}
      <pre class="json" tabIndex={0}>
        {text}
      </pre>
    </section>
  )
}
