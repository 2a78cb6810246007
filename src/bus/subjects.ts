/**
 * Whether a subject (split into its tokens) matches a subscription's pattern (split too): `*`
 * stands for one token, a final `>` for one or more, as in NATS.
 */
export function subjectMatches(pattern: readonly string[], tokens: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]
    if (part === '>') return tokens.length > i
    if (i >= tokens.length) return false
    if (part !== '*' && part !== tokens[i]) return false
  }
  return pattern.length === tokens.length
}
