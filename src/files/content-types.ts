import { AppError } from '../errors.ts'
import { hasControlCharacter } from './file-paths.ts'

const BY_EXTENSION: Readonly<Record<string, string>> = {
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  xml: 'application/xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  wasm: 'application/wasm',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  ico: 'image/vnd.microsoft.icon',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  mp4: 'video/mp4',
  webm: 'video/webm',
}

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream'

/** `type/subtype` and parameters, as RFC 9110 allows them (tokens, quoted strings). */
const MEDIA_TYPE =
  /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(?:[ \t]*;[ \t]*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[^"\\]*"))*$/
const MAX_CONTENT_TYPE = 256

/** The content type a file is stored with: the one the uploader gave, else one guessed from its name. */
export function contentTypeFor(path: string, given: string | undefined): string {
  if (given !== undefined && given.trim() !== '') {
    const type = given.trim()
    if (type.length > MAX_CONTENT_TYPE || hasControlCharacter(type) || !MEDIA_TYPE.test(type)) {
      throw new AppError('bad_request', 'Content-Type is not a valid media type (type/subtype; parameters)')
    }
    return type
  }
  const name = path.slice(path.lastIndexOf('/') + 1)
  const dot = name.lastIndexOf('.')
  return (dot > 0 && BY_EXTENSION[name.slice(dot + 1).toLowerCase()]) || DEFAULT_CONTENT_TYPE
}
