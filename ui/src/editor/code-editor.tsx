import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete'
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands'
import { javascript, javascriptLanguage, typescriptLanguage } from '@codemirror/lang-javascript'
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language'
import { type Diagnostic, lintGutter, setDiagnostics } from '@codemirror/lint'
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search'
import { Compartment, EditorState } from '@codemirror/state'
import { EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view'
import { useEffect, useRef } from 'preact/hooks'
import { scriptApiCompletions } from './script-completions.ts'

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
}

/** CodeMirror 6 with JavaScript/TypeScript highlighting and the script API's completions. */
export function CodeEditor({ value, lang, onChange, onSave, problem, label }: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null)
  const view = useRef<EditorView | null>(null)
  const language = useRef(new Compartment())
  const callbacks = useRef({ onChange, onSave })
  callbacks.current = { onChange, onSave }

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
            if (update.docChanged) callbacks.current.onChange(update.state.doc.toString())
          }),
          EditorView.contentAttributes.of({ 'aria-label': label }),
        ],
      }),
    })
    view.current = editor
    return () => editor.destroy()
  }, [])

  useEffect(() => {
    const editor = view.current
    if (editor && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } })
    }
  }, [value])

  useEffect(() => {
    view.current?.dispatch({ effects: language.current.reconfigure(javascript({ typescript: lang === 'ts' })) })
  }, [lang])

  useEffect(() => {
    const editor = view.current
    if (!editor) return
    const diagnostics: Diagnostic[] = []
    if (problem) {
      const doc = editor.state.doc
      const lineNumber = Math.min(Math.max(problem.line ?? 1, 1), doc.lines)
      const line = doc.line(lineNumber)
      const from = Math.min(line.from + Math.max((problem.column ?? 1) - 1, 0), line.to)
      diagnostics.push({ from, to: Math.max(line.to, from), severity: 'error', message: problem.message })
    }
    editor.dispatch(setDiagnostics(editor.state, diagnostics))
  }, [problem])

  return <div class="code-editor" ref={host} />
}
