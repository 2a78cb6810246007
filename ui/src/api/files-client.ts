/**
 * The files API (SPEC §9) as a token holder uses it: every call sends a channel's token (one with
 * `opts.allow_files_api`) as `Authorization: Bearer`, never in a URL, so it stays out of the
 * address bar, the history and the server's logs. Its refusals never sign the console out: a 401
 * or 404 here is about the channel's token, not the API key.
 */
import { apiError, type Listed, parsed } from './client.ts'
import type { FileEntry } from './types.ts'

/** `/files/<path>`, each segment percent-encoded (a `/` inside a name cannot be spelled: it separates). */
function fileUrl(path: string): string {
  return `/files/${path.split('/').map(encodeURIComponent).join('/')}`
}

async function send(token: string, method: string, url: string): Promise<Response> {
  const response = await fetch(url, { method, headers: { authorization: `Bearer ${token}` }, cache: 'no-store' })
  if (!response.ok) throw apiError(response.status, parsed(await response.text()))
  return response
}

export async function listFiles(
  token: string,
  query: { prefix: string; offset?: number; limit?: number },
): Promise<Listed<FileEntry>> {
  const search = new URLSearchParams({ prefix: query.prefix })
  if (query.offset) search.set('offset', String(query.offset))
  if (query.limit) search.set('limit', String(query.limit))
  const response = await send(token, 'GET', `/files/?${search}`)
  const items = (await response.json()) as FileEntry[]
  return { items, total: Number(response.headers.get('x-total-count') ?? items.length) }
}

/** Whether a file is stored at exactly `path` (a listing by prefix: no 404 to provoke). */
export async function fileExists(token: string, path: string): Promise<boolean> {
  const { items } = await listFiles(token, { prefix: path, limit: 1 })
  return items[0]?.path === path
}

/** The file's bytes. They are held in memory: the console reads what a person downloads by hand. */
export async function downloadFile(token: string, path: string): Promise<Blob> {
  return (await send(token, 'GET', fileUrl(path))).blob()
}

export async function removeFile(token: string, path: string): Promise<FileEntry> {
  return (await (await send(token, 'DELETE', fileUrl(path))).json()) as FileEntry
}

export interface Upload {
  /** Settles with the stored entry (`created`: it was new) or an ApiError. */
  readonly done: Promise<{ entry: FileEntry; created: boolean }>
  abort(): void
}

/**
 * Uploads `file` to `path`. XMLHttpRequest, not fetch: the browser streams the file from disk
 * (fetch can stream a request body only over HTTP/2) and reports progress as it goes.
 */
export function uploadFile(token: string, path: string, file: Blob, onProgress: (sent: number, total: number) => void): Upload {
  const xhr = new XMLHttpRequest()
  const done = new Promise<{ entry: FileEntry; created: boolean }>((resolve, reject) => {
    xhr.open('PUT', fileUrl(path))
    xhr.setRequestHeader('authorization', `Bearer ${token}`)
    // Without a type the server guesses one from the name's extension.
    if (file.type !== '') xhr.setRequestHeader('content-type', file.type)
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size)
    xhr.onload = () => {
      const data = parsed(xhr.responseText)
      if (xhr.status === 200 || xhr.status === 201) resolve({ entry: data as FileEntry, created: xhr.status === 201 })
      else reject(apiError(xhr.status, data))
    }
    // No answer: the server is gone, or it refused the upload before reading it all (too large,
    // the token's channel changed) and closed the connection as it does then.
    xhr.onerror = () => reject(new Error('the upload broke off: the server closed the connection or could not be reached'))
    xhr.onabort = () => reject(new DOMException('the upload was cancelled', 'AbortError'))
    xhr.send(file)
  })
  return { done, abort: () => xhr.abort() }
}
