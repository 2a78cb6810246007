/** One line of an edit script: kept, removed (from the old text) or added (from the new). */
type Edit = { readonly op: ' ' | '-' | '+'; readonly line: string }

/** Past this many differing lines, the diff says "everything changed" instead of searching on. */
const MAX_EDIT_DISTANCE = 4000

export interface DiffOptions {
  readonly oldName: string
  readonly newName: string
  /** Unchanged lines shown around each change. Default 3. */
  readonly context?: number
}

/**
 * A unified diff of two texts (as `diff -u` and git print it), or '' when they are equal. A
 * text that does not end with a newline says so (`\ No newline at end of file`).
 */
export function unifiedDiff(oldText: string, newText: string, options: DiffOptions): string {
  if (oldText === newText) return ''
  const context = options.context ?? 3
  const before = splitLines(oldText)
  const after = splitLines(newText)
  const edits = editScript(before, after)
  const out = [`--- ${options.oldName}`, `+++ ${options.newName}`]
  // Hunks: runs of changes with up to `context` kept lines around them (2 × context joins two).
  let i = 0
  while (i < edits.length) {
    while (i < edits.length && (edits[i] as Edit).op === ' ') i++
    if (i >= edits.length) break
    const start = Math.max(0, i - context)
    let end = i
    let lastChange = i
    while (end < edits.length) {
      if ((edits[end] as Edit).op !== ' ') lastChange = end
      else if (end - lastChange > 2 * context) break
      end++
    }
    const stop = Math.min(edits.length, lastChange + context + 1)
    out.push(...hunk(edits, start, stop))
    i = stop
  }
  return `${out.join('\n')}\n`
}

/** Lines of a text; the last one is marked when it has no newline. */
function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  else lines[lines.length - 1] = `${lines.at(-1)}\n\\ No newline at end of file`
  return lines
}

function hunk(edits: readonly Edit[], start: number, stop: number): string[] {
  // Line numbers (1-based) where the hunk starts in each text.
  let oldLine = 1
  let newLine = 1
  for (let k = 0; k < start; k++) {
    const { op } = edits[k] as Edit
    if (op !== '+') oldLine++
    if (op !== '-') newLine++
  }
  let oldCount = 0
  let newCount = 0
  const body: string[] = []
  for (let k = start; k < stop; k++) {
    const { op, line } = edits[k] as Edit
    if (op !== '+') oldCount++
    if (op !== '-') newCount++
    body.push(`${op}${line}`)
  }
  const range = (first: number, count: number) => (count === 1 ? `${first}` : `${count === 0 ? first - 1 : first},${count}`)
  return [`@@ -${range(oldLine, oldCount)} +${range(newLine, newCount)} @@`, ...body]
}

/**
 * The shortest edit script from `a` to `b` (Myers' O((N+M)·D) algorithm, with the trace kept for
 * the way back). Past MAX_EDIT_DISTANCE it gives up: all of `a` removed, all of `b` added.
 */
function editScript(a: readonly string[], b: readonly string[]): Edit[] {
  const n = a.length
  const m = b.length
  const max = Math.min(n + m, MAX_EDIT_DISTANCE)
  const offset = max + 1
  let v = new Int32Array(2 * max + 3)
  const trace: Int32Array[] = []
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice())
    const next = v.slice()
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number))
      let x = down ? (v[offset + k + 1] as number) : (v[offset + k - 1] as number) + 1
      let y = x - k
      while (x < n && y < m && a[x] === b[y]) {
        x++
        y++
      }
      next[offset + k] = x
      if (x >= n && y >= m) return backtrack(a, b, trace, next, d, k, offset)
    }
    v = next
  }
  return [...a.map((line): Edit => ({ op: '-', line })), ...b.map((line): Edit => ({ op: '+', line }))]
}

/** Walks the trace back from the end: trace[d] holds the furthest x per diagonal after step d − 1. */
function backtrack(
  a: readonly string[],
  b: readonly string[],
  trace: readonly Int32Array[],
  last: Int32Array,
  depth: number,
  finalK: number,
  offset: number,
): Edit[] {
  const edits: Edit[] = []
  let x = last[offset + finalK] as number
  let y = x - finalK
  for (let d = depth; d > 0; d--) {
    const v = trace[d] as Int32Array
    const k = x - y
    const down = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number))
    const prevK = down ? k + 1 : k - 1
    const prevX = v[offset + prevK] as number
    const prevY = prevX - prevK
    while (x > prevX && y > prevY) {
      x--
      y--
      edits.push({ op: ' ', line: a[x] as string })
    }
    if (down) edits.push({ op: '+', line: b[prevY] as string })
    else edits.push({ op: '-', line: a[prevX] as string })
    x = prevX
    y = prevY
  }
  while (x > 0 && y > 0) {
    x--
    y--
    edits.push({ op: ' ', line: a[x] as string })
  }
  return edits.reverse()
}
