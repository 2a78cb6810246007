import { readFileSync } from 'node:fs'
import type { Plugin } from 'vite'

/** One completion of the script editor: a global of the script API, or a member of one. */
interface ScriptApiEntry {
  readonly label: string
  readonly type: 'function' | 'variable' | 'namespace' | 'property' | 'method'
  readonly detail: string
  readonly info: string
}

interface ScriptApi {
  readonly globals: readonly ScriptApiEntry[]
  readonly members: Readonly<Record<string, readonly ScriptApiEntry[]>>
}

const VIRTUAL_ID = 'virtual:script-api'

/**
 * Serves `virtual:script-api`: the names a script is given, read from
 * docs/switchboard-script.d.ts at build time — the file a test keeps in step with the runtime,
 * so the editor's completions cannot drift from what scripts really get.
 */
export function scriptApiPlugin(declarationsPath: string): Plugin {
  return {
    name: 'switchboard-script-api',
    resolveId: (id) => (id === VIRTUAL_ID ? `\0${VIRTUAL_ID}` : undefined),
    load(id) {
      if (id !== `\0${VIRTUAL_ID}`) return undefined
      this.addWatchFile(declarationsPath)
      return `export default ${JSON.stringify(parseScriptApi(readFileSync(declarationsPath, 'utf8')))}`
    },
  }
}

/** Declarations at the top level: a function, or an object (`const`, `namespace`) with members. */
const TOP_LEVEL: readonly (readonly [RegExp, ScriptApiEntry['type']])[] = [
  [/^declare function (\w+)(\(.*)$/, 'function'],
  [/^declare const (\w+): \{()/, 'variable'],
  [/^declare namespace (\w+) \{()/, 'namespace'],
]

/** Members of an object, at indent 2. */
const MEMBERS: readonly (readonly [RegExp, ScriptApiEntry['type']])[] = [
  [/^function (\w+)(\(.*)$/, 'method'],
  [/^(?:readonly )?(\w+)(\(.*)$/, 'method'],
  [/^(?:readonly )?(\w+)\??: (.*)$/, 'property'],
]

/** The first rule `text` matches: the declared name, the rest of the line, and the kind. */
function firstMatch(
  rules: typeof TOP_LEVEL,
  text: string,
): { name: string; rest: string; type: ScriptApiEntry['type'] } | undefined {
  for (const [pattern, type] of rules) {
    const match = pattern.exec(text)
    if (match) return { name: match[1] as string, rest: match[2] as string, type }
  }
  return undefined
}

/** Reads the declarations the way docs/switchboard-script.d.ts writes them (one level of members). */
function parseScriptApi(text: string): ScriptApi {
  const globals: ScriptApiEntry[] = []
  const members: Record<string, ScriptApiEntry[]> = {}
  let doc = ''
  let docLines: string[] | undefined
  let owner: string | undefined
  let skipDepth = 0

  for (const line of text.split('\n')) {
    const trimmed = line.trim()
    if (docLines) {
      docLines.push(trimmed.replace(/^\*\/?|\*\/$/g, '').trim())
      if (trimmed.endsWith('*/')) {
        doc = docLines.join(' ').replace(/\s+/g, ' ').trim()
        docLines = undefined
      }
      continue
    }
    if (trimmed.startsWith('/**')) {
      const body = trimmed.replace(/^\/\*\*/, '')
      if (body.endsWith('*/')) doc = body.replace(/\*\/$/, '').trim()
      else docLines = [body.trim()]
      continue
    }
    const indent = line.length - line.trimStart().length
    if (indent === 0) {
      skipDepth = 0
      const found = firstMatch(TOP_LEVEL, line)
      if (found) {
        globals.push({ label: found.name, type: found.type, detail: found.type === 'function' ? found.rest : '', info: doc })
        owner = found.type === 'function' ? undefined : found.name
      } else if (trimmed.startsWith('}')) {
        owner = undefined
      }
      doc = ''
      continue
    }
    if (owner === undefined) continue
    // Members are at indent 2; deeper lines belong to nested types (skipped).
    if (skipDepth > 0) {
      if (indent === 2 && trimmed.startsWith('}')) skipDepth = 0
      continue
    }
    if (indent !== 2) continue
    const list = members[owner] ?? []
    members[owner] = list
    const found = firstMatch(MEMBERS, trimmed)
    if (found) {
      list.push({ label: found.name, type: found.type, detail: found.rest.replace(/\{$/, '{…}'), info: doc })
      if (found.type === 'property' && trimmed.endsWith('{')) skipDepth = 1
    } else if (/^(interface|type) /.test(trimmed) && trimmed.endsWith('{')) {
      skipDepth = 1
    }
    doc = ''
  }
  return { globals, members }
}
