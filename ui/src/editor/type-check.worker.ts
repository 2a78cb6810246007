/// <reference lib="webworker" />
// Type-checks a script while it is typed: TypeScript's compiler in this worker, against the
// script API's declarations (the same file the server checks saves against), off the page's
// thread. TypeScript sources get every diagnostic; JavaScript only syntax and unknown names.
import ts from 'typescript5'
import declarations from '../../../docs/switchboard-script.d.ts?raw'

const libs = import.meta.glob<string>(
  ['../../../node_modules/typescript5/lib/lib.es*.d.ts', '../../../node_modules/typescript5/lib/lib.decorators*.d.ts'],
  {
    query: '?raw',
    import: 'default',
    eager: true,
  },
)

const LIB_DIR = '/lib'
const files = new Map<string, string>([['/switchboard-script.d.ts', declarations]])
for (const [path, text] of Object.entries(libs)) files.set(`${LIB_DIR}/${path.slice(path.lastIndexOf('/') + 1)}`, text)

/** Parsed once: the libs and the declarations do not change. */
const parsed = new Map<string, ts.SourceFile>()
const PREFIX = 'export {}; async function __script() {\n'
/** Unknown names: "Cannot find name", with or without a suggestion. */
const UNKNOWN_NAME = new Set([2304, 2552, 2582])

export interface CheckRequest {
  readonly id: number
  readonly lang: 'js' | 'ts'
  readonly source: string
}

export interface CheckProblem {
  readonly line: number
  readonly column: number
  readonly message: string
  readonly severity: 'error' | 'warning'
}

function check({ lang, source }: CheckRequest): CheckProblem[] {
  const name = lang === 'ts' ? '/script.ts' : '/script.js'
  const script = ts.createSourceFile(name, `${PREFIX}${source}\n}\n`, ts.ScriptTarget.ES2022, true)
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    lib: ['lib.es2023.d.ts'],
    types: [],
    skipLibCheck: true,
    allowJs: true,
    checkJs: true,
  }
  const host: ts.CompilerHost = {
    getSourceFile(file, version) {
      if (file === name) return script
      let found = parsed.get(file)
      const text = files.get(file)
      if (!found && text !== undefined) {
        found = ts.createSourceFile(file, text, version, false)
        parsed.set(file, found)
      }
      return found
    },
    getDefaultLibFileName: () => `${LIB_DIR}/lib.es2023.d.ts`,
    getDefaultLibLocation: () => LIB_DIR,
    writeFile: () => {},
    getCurrentDirectory: () => '/',
    getCanonicalFileName: (file) => file,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (file) => file === name || files.has(file),
    readFile: (file) => (file === name ? script.text : files.get(file)),
  }
  const program = ts.createProgram({ rootNames: ['/switchboard-script.d.ts', name], options, host })
  const syntax = program.getSyntacticDiagnostics(script)
  const semantic = program
    .getSemanticDiagnostics(script)
    .filter((diagnostic) => lang === 'ts' || UNKNOWN_NAME.has(diagnostic.code))
  return [...syntax, ...semantic].slice(0, 50).map((diagnostic) => {
    const at = script.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
    return {
      line: Math.max(1, at.line),
      column: at.character + 1,
      message: ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
      severity: syntax.includes(diagnostic as ts.DiagnosticWithLocation) ? 'error' : 'warning',
    }
  })
}

self.onmessage = (event: MessageEvent<CheckRequest>) => {
  self.postMessage({ id: event.data.id, problems: check(event.data) })
}
