import scriptApi from 'virtual:script-api'
import type { Completion, CompletionContext, CompletionResult } from '@codemirror/autocomplete'

const toCompletion = (entry: (typeof scriptApi.globals)[number]): Completion => ({
  label: entry.label,
  type: entry.type === 'namespace' ? 'namespace' : entry.type,
  detail: entry.detail,
  ...(entry.info && { info: entry.info }),
  boost: 10,
})

const globals = scriptApi.globals.map(toCompletion)
const members = new Map(Object.entries(scriptApi.members).map(([owner, list]) => [owner, list.map(toCompletion)]))

/**
 * Completes the script API (docs/switchboard-script.d.ts): its globals, and the members of
 * `http.`, `crypto.`, `channel.`, `log.`, `ws.`, … after a dot.
 */
export function scriptApiCompletions(context: CompletionContext): CompletionResult | null {
  const member = context.matchBefore(/\b([A-Za-z_$][\w$]*)\.([\w$]*)$/)
  if (member) {
    const owner = /^([A-Za-z_$][\w$]*)\./.exec(member.text)?.[1] ?? ''
    const options = members.get(owner)
    if (!options) return null
    return { from: member.from + owner.length + 1, options, validFor: /^[\w$]*$/ }
  }
  const word = context.matchBefore(/[A-Za-z_$][\w$]*$/)
  if (!word && !context.explicit) return null
  const before = word ? context.state.sliceDoc(word.from - 1, word.from) : ''
  if (before === '.') return null
  return { from: word?.from ?? context.pos, options: globals, validFor: /^[\w$]*$/ }
}
