/** Most lines a side-by-side diff compares (the table is lines × lines). */
const MAX_LINES = 1500

type Row = { readonly left?: string; readonly right?: string; readonly op: 'same' | 'changed' | 'removed' | 'added' }

/** Rows of a side-by-side diff: the longest common subsequence of lines, changes paired up. */
function rowsOf(left: readonly string[], right: readonly string[]): Row[] {
  const n = left.length
  const m = right.length
  if (n > MAX_LINES || m > MAX_LINES) return [{ left: `${n} lines`, right: `${m} lines: too long to compare`, op: 'changed' }]
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const row = lcs[i] as number[]
      row[j] =
        left[i] === right[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, row[j + 1] as number)
    }
  }
  const rows: Row[] = []
  let removed: string[] = []
  let added: string[] = []
  const flush = () => {
    for (let k = 0; k < Math.max(removed.length, added.length); k++) {
      const l = removed[k]
      const r = added[k]
      rows.push({
        ...(l !== undefined && { left: l }),
        ...(r !== undefined && { right: r }),
        op: l === undefined ? 'added' : r === undefined ? 'removed' : 'changed',
      })
    }
    removed = []
    added = []
  }
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && left[i] === right[j]) {
      flush()
      rows.push({ left: left[i] as string, right: right[j] as string, op: 'same' })
      i++
      j++
    } else if (j >= m || (i < n && ((lcs[i + 1] as number[])[j] as number) >= ((lcs[i] as number[])[j + 1] as number))) {
      removed.push(left[i++] as string)
    } else {
      added.push(right[j++] as string)
    }
  }
  flush()
  return rows
}

const text = (value: unknown) => (typeof value === 'string' ? value : (JSON.stringify(value, null, 2) ?? 'null'))

/** Two values as indented JSON (or text), side by side, the differing lines marked. */
export function SideBySide({
  left,
  right,
  leftLabel,
  rightLabel,
  label,
}: {
  left: unknown
  right: unknown
  leftLabel: string
  rightLabel: string
  label: string
}) {
  const rows = rowsOf(text(left).split('\n'), text(right).split('\n'))
  const changed = rows.filter((row) => row.op !== 'same').length
  return (
    <section class="diff" aria-label={label}>
      <p class="sub">{changed === 0 ? 'No differences.' : `${changed} line${changed === 1 ? '' : 's'} differ.`}</p>
      <div class="table-wrap">
        <table class="diff-table">
          <thead>
            <tr>
              <th scope="col">{leftLabel}</th>
              <th scope="col">{rightLabel}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row, index) => (
              <tr key={index} class={`diff-${row.op}`}>
                <td class="mono">{row.left ?? ''}</td>
                <td class="mono">{row.right ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
