import { AppError } from '../errors.ts'

/** Longest file path, in UTF-8 bytes after normalisation. */
const MAX_PATH_BYTES = 1024
/** Longest segment of a path, in UTF-8 bytes. */
const MAX_SEGMENT_BYTES = 255

const DRIVE = /^[A-Za-z]:$/

/** Whether `text` holds NUL, another C0 control character or DEL. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}

function refused(why: string): AppError {
  return new AppError('bad_request', `invalid file path: ${why}`)
}

/**
 * The normalised file path a URL names: `raw` is the URL path after `/files/`, still
 * percent-encoded (`request.url`, never fastify's decoded parameter, so an encoded `..` or `/` is
 * seen for what it is). Throws 1400 for any way out of the domain's space (SPEC §9).
 */
export function filePathFromUrl(raw: string): string {
  const segments = raw.split('/').map((segment) => {
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      throw refused('it has a malformed percent-encoding')
    }
    if (decoded.includes('/')) throw refused('a segment holds an encoded /')
    return decoded
  })
  return normalised(segments, false)
}

/** The normalised form of a file path given as plain text (scripts, websocket frames). Throws 1400. */
export function normaliseFilePath(path: string): string {
  return normalised(path.split('/'), false)
}

/**
 * A listing prefix: '' (everything), or the start of paths, checked like a path. It may end with
 * `/` (the files inside a folder) or in the middle of a segment (`rep` matches `reports/…`).
 */
export function normalisePrefix(prefix: string): string {
  if (prefix === '') return ''
  const folder = prefix.endsWith('/')
  const path = normalised((folder ? prefix.slice(0, -1) : prefix).split('/'), true)
  return folder ? `${path}/` : path
}

/**
 * The rules, on the path's segments: no `..` (a way out), no absolute path (a leading `/`, a
 * drive `C:`), no backslash, NUL or control character, nothing that decodes once more into one
 * of those (double encoding); `.` and empty inner segments are dropped; Unicode in NFC, so one
 * name has one form; bounded lengths.
 */
function normalised(segments: readonly string[], prefix: boolean): string {
  if (segments.length === 0 || segments.join('') === '') throw refused('it is empty')
  if (segments[0] === '') throw refused('it must be relative (no leading /)')
  if (segments.at(-1) === '' && !prefix) throw refused('a file path cannot end with /')
  if (DRIVE.test(segments[0] as string)) throw refused('it must be relative (no drive letter)')
  const kept: string[] = []
  for (const raw of segments) {
    const segment = raw.normalize('NFC')
    if (hasControlCharacter(segment)) throw refused('it holds NUL or a control character')
    if (segment.includes('\\')) throw refused('it holds a backslash')
    if (segment === '..') throw refused('.. segments are not allowed')
    if (segment === '.' || segment === '') continue
    if (segment.includes('%')) {
      let again: string | undefined
      try {
        again = decodeURIComponent(segment)
      } catch {
        again = undefined
      }
      if (again !== undefined && (again === '.' || again === '..' || /[/\\]/.test(again) || hasControlCharacter(again))) {
        throw refused('it holds a double-encoded . / \\ or control character')
      }
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) throw refused(`a segment is longer than ${MAX_SEGMENT_BYTES} bytes`)
    kept.push(segment)
  }
  if (kept.length === 0) throw refused('it names no file')
  const path = kept.join('/')
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw refused(`it is longer than ${MAX_PATH_BYTES} bytes`)
  return path
}
