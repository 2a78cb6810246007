import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CliError } from './api-client.ts'

/** A script's fields besides its code, language and source, as its `<code>.meta.json` holds them. */
export interface ScriptMeta {
  readonly name: string
  readonly title: string
  readonly comment: string
  readonly loglevel: 'debug' | 'info' | 'warn' | 'error'
}

/** What a script without a metadata file gets (the server's defaults). */
export const DEFAULT_META: ScriptMeta = { name: '', title: '', comment: '', loglevel: 'info' }

export interface ScriptFile {
  readonly code: string
  readonly lang: 'js' | 'ts'
  readonly source: string
  readonly meta: ScriptMeta
}

/** A script code as the server takes it (http/shared-schemas.ts): letters of any script, digits, _ . - */
const CODE = /^[\p{L}\p{M}\p{Nd}_.-]{1,64}$/u
const LOG_LEVELS = ['debug', 'info', 'warn', 'error']
const META_SUFFIX = '.meta.json'

export const sourceFile = (script: { code: string; lang: string }) => `${script.code}.${script.lang}`
export const metaFile = (code: string) => `${code}${META_SUFFIX}`

/** The metadata file's text: stable key order, two-space indent, a final newline (diffs stay small). */
export function metaText(meta: ScriptMeta): string {
  const { name, title, comment, loglevel } = meta
  return `${JSON.stringify({ name, title, comment, loglevel }, null, 2)}\n`
}

/**
 * The scripts kept in `dir`: each `<code>.js` or `<code>.ts` (TypeScript declaration files
 * `*.d.ts` are not scripts) with its optional `<code>.meta.json`. Other files are ignored.
 */
export function readScriptDir(dir: string): ScriptFile[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (error) {
    throw new CliError(`cannot read ${dir}: ${(error as Error).message}`)
  }
  const scripts = new Map<string, ScriptFile>()
  for (const name of names.sort()) {
    const match = /^(.+)\.(js|ts)$/.exec(name)
    if (!match || name.endsWith('.d.ts')) continue
    const [, fileCode, lang] = match as unknown as [string, string, 'js' | 'ts']
    if (!CODE.test(fileCode)) {
      throw new CliError(`${join(dir, name)}: '${fileCode}' is not a script code (1–64 letters, digits, _ . -)`)
    }
    // The server keeps codes in NFC; file names may come decomposed (macOS): compare in NFC.
    const code = fileCode.normalize('NFC')
    if (scripts.has(code)) throw new CliError(`${dir}: both ${code}.js and ${code}.ts; keep one`)
    scripts.set(code, { code, lang, source: readFileSync(join(dir, name), 'utf8'), meta: readMeta(dir, fileCode) })
  }
  for (const name of names) {
    if (name.endsWith(META_SUFFIX) && !scripts.has(name.slice(0, -META_SUFFIX.length).normalize('NFC'))) {
      throw new CliError(`${join(dir, name)} has no script beside it (${name.slice(0, -META_SUFFIX.length)}.js or .ts)`)
    }
  }
  return [...scripts.values()]
}

function readMeta(dir: string, code: string): ScriptMeta {
  const path = join(dir, metaFile(code))
  if (!existsSync(path)) return DEFAULT_META
  let value: unknown
  try {
    value = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new CliError(`${path} is not valid JSON: ${(error as Error).message}`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CliError(`${path} must hold a JSON object`)
  const meta: Record<string, unknown> = { ...DEFAULT_META }
  for (const [key, field] of Object.entries(value)) {
    if (!(key in DEFAULT_META)) throw new CliError(`${path}: unknown field '${key}' (known: name, title, comment, loglevel)`)
    if (typeof field !== 'string') throw new CliError(`${path}: ${key} must be a string`)
    if (key === 'loglevel' && !LOG_LEVELS.includes(field))
      throw new CliError(`${path}: loglevel must be one of ${LOG_LEVELS.join(', ')}`)
    meta[key] = field
  }
  return meta as unknown as ScriptMeta
}

/** Writes a script's two files (and removes its file in the other language, if any). */
export function writeScript(dir: string, script: ScriptFile): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, sourceFile(script)), script.source)
  writeFileSync(join(dir, metaFile(script.code)), metaText(script.meta))
  const other = join(dir, sourceFile({ code: script.code, lang: script.lang === 'js' ? 'ts' : 'js' }))
  if (existsSync(other)) rmSync(other)
}
