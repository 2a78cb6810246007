import { useRef, useState } from 'preact/hooks'
import { ApiError } from '../api/client.ts'
import { fileExists, type Upload, uploadFile } from '../api/files-client.ts'
import type { FileEntry } from '../api/types.ts'
import { bytesText } from '../components/byte-size.ts'
import { Confirm } from '../components/confirm.tsx'
import { Field, TextField } from '../components/field.tsx'
import { ErrorNote } from '../components/states.tsx'

type Progress = { readonly sent: number; readonly total: number }

/** Uploads a chosen file to a path of the space (the folder shown, by default), with progress. */
export function UploadForm({
  token,
  folder,
  onUploaded,
}: {
  token: string
  folder: string
  onUploaded: (entry: FileEntry, created: boolean) => void
}) {
  const [file, setFile] = useState<File | null>(null)
  const [path, setPath] = useState('')
  const [problem, setProblem] = useState<unknown>(null)
  const [progress, setProgress] = useState<Progress | null>(null)
  const [replacing, setReplacing] = useState(false)
  const upload = useRef<Upload | null>(null)
  const input = useRef<HTMLInputElement>(null)
  const target = path.trim()
  // A path problem is the one thing here the person typed: show it at the field.
  const pathProblem =
    problem instanceof ApiError && problem.status === 400 ? (problem.about('path') ?? problem.message) : undefined

  const start = async () => {
    if (!file) return
    setReplacing(false)
    setProblem(null)
    setProgress({ sent: 0, total: file.size })
    const running = uploadFile(token, target, file, (sent, total) => setProgress({ sent, total }))
    upload.current = running
    try {
      const { entry, created } = await running.done
      setFile(null)
      setPath('')
      if (input.current) input.current.value = ''
      onUploaded(entry, created)
    } catch (error) {
      if (!(error instanceof DOMException && error.name === 'AbortError')) setProblem(error)
    } finally {
      upload.current = null
      setProgress(null)
    }
  }
  const submit = async (event: Event) => {
    event.preventDefault()
    if (!file || target === '') return
    setProblem(null)
    try {
      if (await fileExists(token, target)) setReplacing(true)
      else await start()
    } catch (error) {
      setProblem(error)
    }
  }

  return (
    <>
      <form class="form panel upload" onSubmit={submit} noValidate aria-labelledby="upload-title">
        <h2 id="upload-title">Upload a file</h2>
        <div class="row">
          <Field label="File" hint={file ? `${bytesText(file.size)}${file.type ? `, ${file.type}` : ''}` : 'any file'}>
            {(id, described) => (
              <input
                ref={input}
                id={id}
                type="file"
                aria-describedby={described}
                disabled={progress !== null}
                onChange={(event) => {
                  const chosen = (event.currentTarget as HTMLInputElement).files?.[0] ?? null
                  setFile(chosen)
                  setProblem(null)
                  if (chosen) setPath(folder + chosen.name)
                }}
              />
            )}
          </Field>
          <TextField
            label="Path"
            value={path}
            onInput={setPath}
            mono
            placeholder="reports/2026/q4.csv"
            hint="where it is stored; an existing file there is replaced"
            error={pathProblem}
          />
        </div>
        {problem !== null && !pathProblem && <ErrorNote error={problem} />}
        <div class="actions">
          <button type="submit" class="primary" disabled={!file || target === '' || progress !== null}>
            {progress ? 'Uploading…' : 'Upload'}
          </button>
          {progress && (
            <>
              <progress max={progress.total || 1} value={progress.sent} aria-label="Upload progress" />
              <span class="sub" role="status">
                {bytesText(progress.sent)} of {bytesText(progress.total)}
              </span>
              <button type="button" class="small" onClick={() => upload.current?.abort()}>
                Cancel
              </button>
            </>
          )}
        </div>
      </form>
      <Confirm
        open={replacing}
        title={`Replace ${target}?`}
        confirm="Replace"
        danger
        onConfirm={start}
        onCancel={() => setReplacing(false)}
      >
        A file is stored at that path. Uploading replaces it for everyone.
      </Confirm>
    </>
  )
}
