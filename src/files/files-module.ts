import type { Actor } from '../collections/collection.ts'
import { AppError } from '../errors.ts'
import { type ExecutionScope, type HostModule, ScriptApiError } from '../scripts/runtime/host-api.ts'
import { contentTypeFor, DEFAULT_CONTENT_TYPE } from './content-types.ts'
import { normaliseFilePath, normalisePrefix } from './file-paths.ts'
import { MAX_LIST_LIMIT } from './file-schemas.ts'
import type { FileSpaces } from './file-spaces.ts'

/** Largest file a script reads or writes at once, bytes: the bytes cross to the script's process. */
const SCRIPT_FILE_MAX_BYTES = 8 << 20

const READ_AS = new Set(['text', 'bytes', 'json'])

/** Who a script's file change is audited as: its run's caller, else its channel. */
function actorOf(scope: ExecutionScope): Actor {
  return scope.caller ?? { kind: 'channel', id: scope.channel?.id ?? '' }
}

function path(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new ScriptApiError(`files.${name}: path must be a string`)
  return normaliseFilePath(value)
}

function options(name: string, value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw new ScriptApiError(`files.${name}: options must be an object`)
  return value as Record<string, unknown>
}

/** Turns AppErrors (bad paths, missing files, too large) into the script's error. */
async function scripted<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    throw error instanceof AppError ? new ScriptApiError(`files.${name}: ${error.message}`) : error
  }
}

/**
 * `files.read/write/list/remove(path)` and `files.tempLink(path)` (SPEC §4, §9): the domain's
 * files, in the main process (FileSpaces), for every script of the domain. Paths follow the
 * files API's rules.
 */
export function filesModule(files: FileSpaces): HostModule {
  return {
    name: 'files',
    guest: `(call) => ({
      read: (path, options) => call('read', path, options === undefined ? null : options),
      write: (path, data, options) => call('write', path, data, options === undefined ? null : options),
      list: (prefix, options) => call('list', prefix === undefined ? '' : prefix, options === undefined ? null : options),
      remove: (path) => call('remove', path),
      tempLink: (path) => call('tempLink', path),
    })`,
    functions: {
      read: {
        run: (scope, [rawPath, rawOptions]) =>
          scripted('read', async () => {
            const as = options('read', rawOptions).as ?? 'text'
            if (typeof as !== 'string' || !READ_AS.has(as))
              throw new ScriptApiError("files.read: options.as must be 'text', 'bytes' or 'json'")
            const reader = await files.open(scope.domainId, path('read', rawPath))
            if (reader.info.size > SCRIPT_FILE_MAX_BYTES) {
              await reader.close()
              throw new ScriptApiError(
                `files.read: the file is ${reader.info.size} bytes; scripts read at most ${SCRIPT_FILE_MAX_BYTES}`,
              )
            }
            const parts: Buffer[] = []
            for await (const part of reader.stream()) parts.push(part as Buffer)
            const bytes = Buffer.concat(parts)
            if (as === 'bytes') return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
            if (as === 'text') return bytes.toString('utf8')
            try {
              return JSON.parse(bytes.toString('utf8'))
            } catch (error) {
              throw new ScriptApiError(`files.read: the file is not JSON: ${(error as Error).message}`)
            }
          }),
      },
      write: {
        run: (scope, [rawPath, data, rawOptions]) =>
          scripted('write', async () => {
            const target = path('write', rawPath)
            const given = options('write', rawOptions).contentType
            if (given !== undefined && typeof given !== 'string')
              throw new ScriptApiError('files.write: options.contentType must be a string')
            let bytes: Buffer
            let fallback: string
            if (data instanceof Uint8Array) {
              bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
              fallback = DEFAULT_CONTENT_TYPE
            } else if (typeof data === 'string') {
              bytes = Buffer.from(data)
              fallback = 'text/plain; charset=utf-8'
            } else if (data === null || data === undefined) {
              throw new ScriptApiError('files.write: data is missing (a string, a Uint8Array or a JSON value)')
            } else {
              bytes = Buffer.from(JSON.stringify(data))
              fallback = 'application/json'
            }
            const guessed = contentTypeFor(target, given)
            const contentType = given === undefined && guessed === DEFAULT_CONTENT_TYPE ? fallback : guessed
            const max = Math.min(files.maxBytes, SCRIPT_FILE_MAX_BYTES)
            const { entry } = await files.write(scope.domainId, target, [bytes], contentType, actorOf(scope), max)
            return entry
          }),
      },
      list: {
        run: (scope, [prefix, rawOptions]) =>
          scripted('list', async () => {
            if (typeof prefix !== 'string') throw new ScriptApiError('files.list: prefix must be a string')
            const { offset = 0, limit = MAX_LIST_LIMIT } = options('list', rawOptions)
            if (!Number.isInteger(offset) || (offset as number) < 0)
              throw new ScriptApiError('files.list: options.offset must be a whole number')
            if (!Number.isInteger(limit) || (limit as number) < 0 || (limit as number) > MAX_LIST_LIMIT) {
              throw new ScriptApiError(`files.list: options.limit must be a whole number up to ${MAX_LIST_LIMIT}`)
            }
            return (await files.list(scope.domainId, normalisePrefix(prefix), offset as number, limit as number)).items
          }),
      },
      remove: {
        run: (scope, [rawPath]) =>
          scripted('remove', async () => {
            try {
              await files.remove(scope.domainId, path('remove', rawPath), actorOf(scope))
              return true
            } catch (error) {
              if (error instanceof AppError && error.kind === 'not_found') return false
              throw error
            }
          }),
      },
      tempLink: {
        run: (scope, [rawPath]) => scripted('tempLink', () => files.tempLink(scope.domainId, path('tempLink', rawPath))),
      },
    },
  }
}
