import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete'
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands'
import { javascript, javascriptLanguage, typescriptLanguage } from '@codemirror/lang-javascript'
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language'
import { type Diagnostic, lintGutter, setDiagnostics } from '@codemirror/lint'
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search'
import { Compartment, EditorState } from '@codemirror/state'
import { EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view'
import { useEffect, useRef, useState } from 'preact/hooks'
import { scriptApiCompletions } from './script-completions.ts'
import type { CheckProblem, CheckRequest } from './type-check.worker.ts'

export interface SourceProblem {
  readonly message: string
  readonly line?: number | undefined
  readonly column?: number | undefined
}

interface CodeEditorProps {
  readonly value: string
  readonly lang: 'js' | 'ts'
  readonly onChange: (value: string) => void
  /** Ctrl/Cmd-S. */
  readonly onSave?: () => void
  /** Shown at its line (a compile error from the server, or the failed run's error). */
  readonly problem?: SourceProblem | null
  readonly label: string
  /** Told the problems the live check found in the text as it is now. */
  readonly onChecked?: (problems: readonly CheckProblem[]) => void
}

/** Quiet time after a keystroke before the text is checked, ms. */
const CHECK_AFTER_MS = 300

/** One worker for every editor of the page, made on first use (TypeScript is large). */
let checker: Worker | undefined
let nextCheck = 0
function checkSource(request: Omit<CheckRequest, 'id'>): Promise<CheckProblem[]> {
  checker ??= new Worker(new URL('./type-check.worker.ts', import.meta.url), { type: 'module' })
  const worker = checker
  const id = ++nextCheck
  return new Promise((resolve) => {
    const listener = (event: MessageEvent<{ id: number; problems: CheckProblem[] }>) => {
      if (event.data.id !== id) return
      worker.removeEventListener('message', listener)
      resolve(event.data.problems)
    }
    worker.addEventListener('message', listener)
    worker.postMessage({ ...request, id })
  })
}

/** CodeMirror 6 with JavaScript/TypeScript highlighting and the script API's completions. */
export function CodeEditor({ value, lang, onChange, onSave, problem, label, onChecked }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null)
  const view = useRef<EditorView | null>(null)
  const language = useRef(new Compartment())
  const callbacks = useRef({ onChange, onSave, onChecked })
  /** Texts the editor emitted lately (the page hands them back as `value`). */
  const emitted = useRef(new Set<string>())
  callbacks.current = { onChange, onSave, onChecked }
  // The live check's problems, for the text they were found in.
  const [live, setLive] = useState<{ text: string; problems: readonly CheckProblem[] }>({ text: '', problems: [] })

  // The view is made once; value, lang and problem are synced by the effects below.
  useEffect(() => {
    const editor = new EditorView({
      parent: host.current as HTMLDivElement,
      state: EditorState.create({
        doc: value,
        extensions: [
          lineNumbers(),
          highlightActiveLineGutter(),
          history(),
          indentOnInput(),
          bracketMatching(),
          closeBrackets(),
          highlightActiveLine(),
          highlightSelectionMatches(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          language.current.of(javascript({ typescript: lang === 'ts' })),
          javascriptLanguage.data.of({ autocomplete: scriptApiCompletions }),
          typescriptLanguage.data.of({ autocomplete: scriptApiCompletions }),
          autocompletion(),
          lintGutter(),
          keymap.of([
            {
              key: 'Mod-s',
              preventDefault: true,
              run: () => {
                callbacks.current.onSave?.()
                return true
              },
            },
            ...closeBracketsKeymap,
            ...defaultKeymap,
            ...searchKeymap,
            ...historyKeymap,
            ...completionKeymap,
            indentWithTab,
          ]),
          EditorView.updateListener.of((update) => {
            if (!update.docChanged) return
            const text = update.state.doc.toString()
            emitted.current.add(text)
            // The recent ones are enough: a render lags a few keystrokes at most.
            if (emitted.current.size > 64) emitted.current.delete(emitted.current.values().next().value as string)
            callbacks.current.onChange(text)
          }),
          EditorView.contentAttributes.of({ 'aria-label': label }),
        ],
      }),
    })
    view.current = editor
    return () => editor.destroy()
  }, [])

  // A value from outside (a rollback, a reset) replaces the text. One the editor itself emitted
  // does not: while keys come fast the page renders an older emitted value after the editor has
  // moved on, and writing it back would undo the newer keystrokes (and make them again, for ever).
  useEffect(() => {
    const editor = view.current
    const mine = emitted.current.has(value)
    if (editor && !mine && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } })
    }
  }, [value])

  useEffect(() => {
    view.current?.dispatch({ effects: language.current.reconfigure(javascript({ typescript: lang === 'ts' })) })
  }, [lang])

  // The live check: syntax, types (TypeScript) and unknown names, a moment after typing stops.
  useEffect(() => {
    let current = true
    const timer = setTimeout(() => {
      void checkSource({ lang, source: value }).then((problems) => {
        if (!current) return
        setLive({ text: value, problems })
        callbacks.current.onChecked?.(problems)
      })
    }, CHECK_AFTER_MS)
    return () => {
      current = false
      clearTimeout(timer)
    }
  }, [value, lang])

  useEffect(() => {
    const editor = view.current
    if (!editor) return
    const doc = editor.state.doc
    const diagnostics: Diagnostic[] = []
    const mark = (at: SourceProblem, severity: 'error' | 'warning') => {
      const lineNumber = Math.min(Math.max(at.line ?? 1, 1), doc.lines)
      const line = doc.line(lineNumber)
      const from = Math.min(line.from + Math.max((at.column ?? 1) - 1, 0), line.to)
      diagnostics.push({ from, to: Math.max(line.to, from), severity, message: at.message })
    }
    if (problem) mark(problem, 'error')
    // Problems found in another text than the editor's own are stale: a newer check is coming.
    if (live.text === doc.toString()) {
      for (const found of live.problems) {
        if (!problem || found.line !== problem.line || found.message !== problem.message) mark(found, found.severity)
      }
    }
    editor.dispatch(setDiagnostics(editor.state, diagnostics))
  }, [problem, live])

  return <div class="code-editor" ref={host} />
}
