import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type * as TS from 'typescript5'
import type { SourceProblem } from './runtime/script-source.ts'

/**
 * The script API as scripts see it: the file a test keeps in step with the runtime (the build
 * copies it to .build/docs/). Joined by parts: the build rewrites relative `.ts` specifiers.
 */
const DECLARATIONS_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'switchboard-script.d.ts')
const DECLARATIONS = '/switchboard-script.d.ts'
const SCRIPT = '/script.ts'
/** The script is the body of an async function; one line goes before it. */
const PREFIX = 'export {}; async function __script() {\n'
/** Most problems one check reports. */
const MAX_PROBLEMS = 20

let compiler: typeof TS | undefined
/** Parsed once: the lib files and the declarations never change while the process runs. */
const fixed = new Map<string, TS.SourceFile>()

/**
 * Type-checks a TypeScript script against the script API (strict mode, no DOM, ES2023), the way
 * an editor would: unknown names, wrong types, bad calls. Answers the problems in the user's own
 * lines and columns, at most MAX_PROBLEMS. TypeScript is loaded on the first check only (it is
 * large), and a check builds one small program (about 100 ms once the libs are parsed).
 */
export function typeProblems(source: string): SourceProblem[] {
  compiler ??= createRequire(import.meta.url)('typescript5') as typeof TS
  const ts = compiler
  const libDir = dirname(ts.getDefaultLibFilePath({}))
  const options: TS.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    lib: ['lib.es2023.d.ts'],
    types: [],
    skipLibCheck: true,
    noUnusedLocals: false,
  }
  const script = ts.createSourceFile(SCRIPT, `${PREFIX}${source}\n}\n`, ts.ScriptTarget.ES2022, true)
  const read = (name: string): string | undefined => {
    if (name === DECLARATIONS) return readFileSync(DECLARATIONS_FILE, 'utf8')
    try {
      return readFileSync(name.startsWith(libDir) ? name : join(libDir, name), 'utf8')
    } catch {
      return undefined
    }
  }
  const host: TS.CompilerHost = {
    getSourceFile(name, languageVersion) {
      if (name === SCRIPT) return script
      let file = fixed.get(name)
      if (!file) {
        const text = read(name)
        if (text === undefined) return undefined
        file = ts.createSourceFile(name, text, languageVersion, false)
        fixed.set(name, file)
      }
      return file
    },
    getDefaultLibFileName: (compilerOptions) => join(libDir, ts.getDefaultLibFileName(compilerOptions)),
    getDefaultLibLocation: () => libDir,
    writeFile: () => {},
    getCurrentDirectory: () => '/',
    getCanonicalFileName: (name) => name,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (name) => name === SCRIPT || fixed.has(name) || read(name) !== undefined,
    readFile: (name) => (name === SCRIPT ? script.text : read(name)),
  }
  const program = ts.createProgram({ rootNames: [DECLARATIONS, SCRIPT], options, host })
  const diagnostics = [...program.getSyntacticDiagnostics(script), ...program.getSemanticDiagnostics(script)]
  return diagnostics.slice(0, MAX_PROBLEMS).map((diagnostic) => {
    const at = script.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
    return {
      message: ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
      line: Math.max(1, at.line),
      column: at.character + 1,
    }
  })
}
