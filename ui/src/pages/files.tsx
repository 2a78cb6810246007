import { useEffect, useState } from 'preact/hooks'
import { list, PATHS } from '../api/client.ts'
import { downloadFile, listFiles, removeFile } from '../api/files-client.ts'
import type { Channel, FileEntry } from '../api/types.ts'
import { Link } from '../app/link.tsx'
import { navigate } from '../app/router.ts'
import { useResource } from '../app/use-resource.ts'
import { bytesText } from '../components/byte-size.ts'
import { Confirm } from '../components/confirm.tsx'
import { Select, TextField } from '../components/field.tsx'
import { Empty, ErrorNote, Loaded } from '../components/states.tsx'
import { Ago } from '../components/status-badge.tsx'
import { UploadForm } from './file-upload.tsx'

/** A folder is listed whole, up to the API's largest page; past that, the person narrows the prefix. */
const LISTED = 1000

/** The folder part of a prefix: everything up to its last `/` (`reports/20` → `reports/`). */
const folderOf = (prefix: string) => prefix.slice(0, prefix.lastIndexOf('/') + 1)

interface Folder {
  readonly path: string
  readonly files: number
  readonly size: number
}

/** The entries under `folder` as its direct files and its subfolders (with what they hold). */
function grouped(folder: string, items: readonly FileEntry[]): { folders: Folder[]; files: FileEntry[] } {
  const folders = new Map<string, { files: number; size: number }>()
  const files: FileEntry[] = []
  for (const entry of items) {
    const slash = entry.path.indexOf('/', folder.length)
    if (slash === -1) {
      files.push(entry)
      continue
    }
    const path = entry.path.slice(0, slash + 1)
    const seen = folders.get(path) ?? { files: 0, size: 0 }
    folders.set(path, { files: seen.files + 1, size: seen.size + entry.size })
  }
  return { folders: [...folders].map(([path, seen]) => ({ path, ...seen })), files }
}

/**
 * The domain's file space (SPEC §9) through the files API, with the token of a channel that
 * allows it (read with the API key, as the tester does). The token goes in headers only.
 */
export function Files({ query }: { query: URLSearchParams }) {
  const channels = useResource(
    () =>
      list<Channel>(PATHS.channels, {
        mask: 'id,code,token_local',
        filter: JSON.stringify({ 'opts.allow_files_api': true }),
        order: 'code',
        limit: 1000,
      }),
    [],
  )
  return (
    <section>
      <div class="page-head">
        <h1>Files</h1>
      </div>
      <Loaded resource={channels}>
        {({ items }) => {
          if (items.length === 0) {
            return (
              <Empty>
                <p>
                  The files API works with a channel's token, and no channel allows it yet. Open a channel, tick{' '}
                  <em>Files API for token holders</em> under <em>Behaviour</em>, and save.
                </p>
                <div class="actions center">
                  <Link href="/channels" class="button primary">
                    Choose a channel
                  </Link>
                  <Link href="/channels/new" class="button">
                    New channel
                  </Link>
                </div>
              </Empty>
            )
          }
          const channel = items.find((item) => item.id === query.get('channel')) ?? (items[0] as Channel)
          return <FileSpace key={channel.id} channels={items} channel={channel} prefix={query.get('prefix') ?? ''} />
        }}
      </Loaded>
    </section>
  )
}

function FileSpace({ channels, channel, prefix }: { channels: Channel[]; channel: Channel; prefix: string }) {
  const token = channel.token_local
  const folder = folderOf(prefix)
  const go = (to: { channel?: string; prefix?: string }) => {
    const next = new URLSearchParams()
    next.set('channel', to.channel ?? channel.id)
    const wanted = to.prefix ?? prefix
    if (wanted) next.set('prefix', wanted)
    navigate(`/files?${next}`, { replace: true })
  }
  const listing = useResource(() => listFiles(token, { prefix, limit: LISTED }), [token, prefix])
  const [typed, setTyped] = useState(prefix)
  useEffect(() => setTyped(prefix), [prefix])
  const [note, setNote] = useState<string | null>(null)
  const [problem, setProblem] = useState<unknown>(null)
  const [removing, setRemoving] = useState<FileEntry | null>(null)
  const [fetching, setFetching] = useState<string | null>(null)

  const download = async (entry: FileEntry) => {
    setProblem(null)
    setFetching(entry.path)
    try {
      const blob = await downloadFile(token, entry.path)
      // A link to the bytes in memory: the token never appears in a URL or the history.
      const url = URL.createObjectURL(blob)
      const link = document.createElement('a')
      link.href = url
      link.download = entry.path.slice(entry.path.lastIndexOf('/') + 1)
      link.click()
      setTimeout(() => URL.revokeObjectURL(url), 60_000)
    } catch (error) {
      setProblem(error)
    } finally {
      setFetching(null)
    }
  }
  const remove = async () => {
    const entry = removing
    setRemoving(null)
    if (!entry) return
    setProblem(null)
    try {
      await removeFile(token, entry.path)
      setNote(`Deleted ${entry.path}.`)
      listing.reload()
    } catch (error) {
      setProblem(error)
    }
  }
  const crumbs = folder === '' ? [] : folder.slice(0, -1).split('/')

  return (
    <>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault()
          go({ prefix: typed.trim() })
        }}
      >
        <Select
          label="Channel"
          value={channel.id}
          onChange={(id) => go({ channel: id })}
          options={channels.map((item) => ({ value: item.id, label: item.code }))}
        />
        <TextField label="Prefix" value={typed} onInput={setTyped} mono placeholder="reports/2026/" />
        <button type="submit">List</button>
      </form>
      <p class="sub">
        The domain's files, through the files API with the token of {channel.code} (every channel that allows it sees the same
        files). A prefix lists the paths that start with it.
      </p>
      <nav class="crumbs" aria-label="Folder">
        {prefix === '' ? (
          <strong>All files</strong>
        ) : (
          <button type="button" class="link" onClick={() => go({ prefix: '' })}>
            All files
          </button>
        )}
        {crumbs.map((name, index) => {
          const path = `${crumbs.slice(0, index + 1).join('/')}/`
          return (
            <span key={path}>
              {' / '}
              {path === prefix ? (
                <strong>{name}</strong>
              ) : (
                <button type="button" class="link" onClick={() => go({ prefix: path })}>
                  {name}
                </button>
              )}
            </span>
          )
        })}
        {prefix !== folder && <span class="mono"> / {prefix.slice(folder.length)}…</span>}
      </nav>
      {note && (
        <p class="note ok" role="status">
          {note}
        </p>
      )}
      {problem !== null && <ErrorNote error={problem} />}
      <Loaded resource={listing}>
        {({ items, total }) => {
          if (items.length === 0)
            return prefix === '' ? (
              <Empty>No files yet. Upload one below, or PUT one to /files/&lt;path&gt; with the channel's token.</Empty>
            ) : (
              <Empty>No file path starts with “{prefix}”.</Empty>
            )
          const { folders, files } = grouped(folder, items)
          return (
            <div class="table-wrap">
              <table class="stack">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col" class="num">
                      Size
                    </th>
                    <th scope="col">Type</th>
                    <th scope="col">Modified</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {folders.map((sub) => (
                    <tr key={sub.path}>
                      <td>
                        <button type="button" class="link mono" onClick={() => go({ prefix: sub.path })}>
                          {sub.path.slice(folder.length)}
                        </button>
                      </td>
                      <td class="num" title={`${sub.size} bytes`} data-label="Size">
                        {bytesText(sub.size)}
                      </td>
                      <td class="sub" colSpan={3}>
                        folder, {sub.files} file{sub.files === 1 ? '' : 's'}
                        {total > items.length ? ' listed' : ''}
                      </td>
                    </tr>
                  ))}
                  {files.map((entry) => (
                    <tr key={entry.path}>
                      <td class="mono file-name">{entry.path.slice(folder.length)}</td>
                      <td class="num" title={`${entry.size} bytes`} data-label="Size">
                        {bytesText(entry.size)}
                      </td>
                      <td class="small file-type" data-label="Type">
                        {entry.content_type}
                      </td>
                      <td data-label="Modified">
                        <Ago at={entry.mtime} />
                      </td>
                      <td>
                        <div class="actions nowrap">
                          <button
                            type="button"
                            class="small"
                            disabled={fetching === entry.path}
                            aria-label={`Download ${entry.path}`}
                            onClick={() => download(entry)}
                          >
                            {fetching === entry.path ? 'Downloading…' : 'Download'}
                          </button>
                          <button
                            type="button"
                            class="small danger"
                            aria-label={`Delete ${entry.path}`}
                            onClick={() => setRemoving(entry)}
                          >
                            Delete
                          </button>
                        </div>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p class="sub">
                {total > items.length
                  ? `The first ${items.length} of ${total} paths: type a longer prefix to see the rest.`
                  : `${total} file${total === 1 ? '' : 's'}${prefix ? ` under “${prefix}”` : ''}`}
              </p>
            </div>
          )
        }}
      </Loaded>
      <UploadForm
        token={token}
        folder={folder}
        onUploaded={(entry, created) => {
          setProblem(null)
          setNote(`${created ? 'Uploaded' : 'Replaced'} ${entry.path} (${bytesText(entry.size)}).`)
          listing.reload()
        }}
      />
      <Confirm
        open={removing !== null}
        title={`Delete ${removing?.path}?`}
        confirm="Delete"
        danger
        onConfirm={remove}
        onCancel={() => setRemoving(null)}
      >
        The file is gone at once, for every channel of the domain and its scripts; temporary links to it stop working.
      </Confirm>
    </>
  )
}
