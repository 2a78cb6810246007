import { AppError, ERRORS, errorBody } from '../../errors.ts'
import { DEFAULT_TIMEOUT_MS, MAX_STARTPARAMS, MAX_TIMEOUT_MS } from '../../scripts/run-limits.ts'
import type { ScriptDirectory } from '../../scripts/script-directory.ts'
import type { ExecutionResult, ScriptExecutor } from '../../scripts/script-executor.ts'
import type { Tracing } from '../../tracing/tracing.ts'
import { endFrameSpan, startFrameSpan } from '../frame-span.ts'
import type { FrameHandler, WsConnection } from '../ws-connection.ts'

export interface SvcscriptDeps {
  readonly scripts: ScriptDirectory
  readonly executor: ScriptExecutor
  /** A span per `start_svcscript` frame, the parent of its run's. Default: off. */
  readonly tracing?: Tracing | undefined
}

/**
 * The `svcscript` capability (SPEC §6.4): `start_svcscript` runs a script of the domain by code
 * with up to 20 start parameters; `abort_svcscript` with the same `qid` stops it, and the start
 * is answered as aborted.
 */
export function svcscriptCapability(deps: SvcscriptDeps): Record<string, FrameHandler> {
  /** Starts in progress per connection, by qid. */
  const running = new WeakMap<WsConnection, Map<string | number, AbortController>>()

  return {
    start_svcscript: {
      capability: 'svcscript',
      async handle(connection, payload, qid) {
        const code = payload.code
        if (typeof code !== 'string' || code === '')
          throw new AppError('bad_request', 'start_svcscript needs the code of a script')
        const timeout = payload.timeout ?? DEFAULT_TIMEOUT_MS
        if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT_MS) {
          throw new AppError('bad_request', `timeout must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`)
        }
        const script = deps.scripts.byCode(connection.domainId, code)
        if (!script) throw new AppError('not_found', `no script '${code}' in this domain`)
        const startparams: unknown[] = []
        for (let n = 1; n <= MAX_STARTPARAMS; n++) startparams.push(payload[`startparam${n}`])
        while (startparams.length > 0 && startparams.at(-1) === undefined) startparams.pop()

        let abort: AbortController | undefined
        if (qid !== undefined) {
          let mine = running.get(connection)
          if (!mine) {
            mine = new Map()
            running.set(connection, mine)
          }
          if (mine.has(qid)) throw new AppError('conflict', `a start_svcscript with qid ${JSON.stringify(qid)} is running`)
          abort = new AbortController()
          mine.set(qid, abort)
        }
        const span = deps.tracing && startFrameSpan(deps.tracing, connection, 'start_svcscript')
        try {
          let result: ExecutionResult
          try {
            result = await deps.executor.execute({
              domainId: connection.domainId,
              script,
              trigger: 'svcscript',
              channel: connection.channel,
              startparams: startparams.map((value) => value ?? null),
              timeoutMs: timeout,
              requestId: connection.requestId,
              ...(abort && { abort: abort.signal }),
              trace: span,
            })
          } catch (error) {
            if (span) endFrameSpan(span, { error })
            throw error
          }
          if (span) endFrameSpan(span, result)
          if (qid === undefined) return
          if (result.status === 'ok') {
            connection.send('start_svcscript_result', { qid, result: 'ok', data: { variables: result.output } })
            return
          }
          const [status, what] =
            result.status === 'timeout'
              ? [ERRORS.script_timeout, 'the script did not finish in time']
              : result.status === 'aborted'
                ? [ERRORS.aborted, 'the script was aborted']
                : [ERRORS.internal, 'script failed']
          connection.send('start_svcscript_result', {
            qid,
            result: 'error',
            ...errorBody(status, `${what} (execution ${result.id})`),
          })
        } finally {
          if (qid !== undefined) running.get(connection)?.delete(qid)
        }
      },
    },

    abort_svcscript: {
      capability: 'svcscript',
      handle(connection, _payload, qid) {
        if (qid === undefined) throw new AppError('bad_request', 'abort_svcscript needs the qid of the start to stop')
        const abort = running.get(connection)?.get(qid)
        if (!abort) throw new AppError('not_found', `no start_svcscript with qid ${JSON.stringify(qid)} is running`)
        abort.abort()
        connection.send('abort_svcscript_result', { qid, result: 'ok' })
      },
    },
  }
}
