// Builds the server as plain JavaScript into .build/ (bin/runtime.sh, ensure_build): every
// src/**/*.ts but the tests, type-stripped by Node's own module.stripTypeScriptTypes (positions
// kept), relative `.ts` specifiers pointed at `.js`. Node can run the sources directly, but a
// process that loads TypeScript also loads its stripper (about 28 MB of memory per process,
// measured), and a node runs a supervisor, a worker per core and script hosts
// (docs/architecture.md). Tests run the sources.
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { stripTypeScriptTypes } from 'node:module'
import { dirname, join, relative } from 'node:path'

const root = join(dirname(new URL(import.meta.url).pathname), '..')
const out = join(root, '.build')
const staging = `${out}.tmp`

/** `'./x.ts'` and `"../y/z.ts"` (imports, dynamic imports, `new URL` of entry points) → `.js`. */
const RELATIVE_TS = /(['"])(\.\.?\/[^'"\n]*?)\.ts\1/g

function build(dir: string): number {
  let files = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      files += build(path)
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.contract.ts')) {
      const code = stripTypeScriptTypes(readFileSync(path, 'utf8'), { mode: 'strip' }).replace(RELATIVE_TS, '$1$2.js$1')
      const target = join(staging, relative(root, path)).replace(/\.ts$/, '.js')
      mkdirSync(dirname(target), { recursive: true })
      writeFileSync(target, code)
      files++
    }
  }
  return files
}

rmSync(staging, { recursive: true, force: true })
mkdirSync(staging, { recursive: true })
const files = build(join(root, 'src'))
// What the sources find beside them: package.json (the version, "type": "module"), the script
// API's declarations and the console's build.
cpSync(join(root, 'package.json'), join(staging, 'package.json'))
// The script API's declarations, which the type check of TypeScript scripts reads.
cpSync(join(root, 'docs/switchboard-script.d.ts'), join(staging, 'docs/switchboard-script.d.ts'))
symlinkSync('../ui', join(staging, 'ui'))
rmSync(out, { recursive: true, force: true })
renameSync(staging, out)
process.stderr.write(`switchboard: built ${files} server files into .build/\n`)
