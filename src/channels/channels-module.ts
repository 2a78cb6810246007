import type { DeliverRequest } from '../deliveries/deliveries.ts'
import { AppError } from '../errors.ts'
import { MAX_CHAIN_DEPTH } from '../scripts/run-limits.ts'
import { type HostModule, ScriptApiError } from '../scripts/runtime/host-api.ts'
import type { ScriptDirectory } from '../scripts/script-directory.ts'
import type { ExecutionResult, ScriptExecutor } from '../scripts/script-executor.ts'
import type { TraceSpan, Tracing } from '../tracing/tracing.ts'
import type { ChannelDirectory } from './channel-directory.ts'
import { channelForScripts, recvTimeoutMs } from './channel-runtime.ts'
import type { Channel } from './channel-schemas.ts'

export interface ChannelsModuleDeps {
  readonly channels: ChannelDirectory
  readonly scripts: ScriptDirectory
  readonly executor: ScriptExecutor
  /** A span per send (`channels.send <code>`), the parent of the send script's run. Default: off. */
  readonly tracing?: Tracing | undefined
  /** `channels.deliver`: stores a delivery and answers its id (deliveries/deliveries.ts). */
  readonly deliver?: (domainId: string, channel: Channel, request: DeliverRequest) => Promise<string>
}

/**
 * `channels.send(code, message)` (SPEC §7): runs channel `code`'s `send_svcscriptcode` with
 * startparam 1 = the channel, 2 = `message`, and resolves with its variables. The send script
 * runs as that channel (its `url` for relative `http.request` paths, its `token_remote*`), in the
 * caller's domain only, and ends when the caller ends. Runs in the main process.
 */
export function channelsModule(deps: () => ChannelsModuleDeps): HostModule {
  return {
    name: 'channels',
    guest: `(call) => ({
      send: (code, message) => call('send', code, message === undefined ? null : message),
      deliver: (code, payload, options) => call('deliver', code, payload === undefined ? null : payload, options ?? null),
    })`,
    functions: {
      deliver: {
        run: async (scope, [code, payload, options]) => {
          if (typeof code !== 'string' || code === '') throw new ScriptApiError('channels.deliver: code must be a channel code')
          const given = (options ?? {}) as { event_type?: unknown; id?: unknown }
          if (typeof given !== 'object' || Array.isArray(given)) {
            throw new ScriptApiError('channels.deliver: options must be an object {event_type?, id?}')
          }
          for (const field of ['event_type', 'id'] as const) {
            const value = given[field]
            if (value !== undefined && value !== null && (typeof value !== 'string' || value === '' || value.length > 128)) {
              throw new ScriptApiError(`channels.deliver: ${field} must be a string of 1–128 characters`)
            }
          }
          const { channels, deliver } = deps()
          const entry = channels.byCode(scope.domainId, code)
          if (!entry) throw new ScriptApiError(`channels.deliver: no channel '${code}' in this domain`)
          if (!deliver) throw new ScriptApiError('channels.deliver: deliveries are not available here')
          try {
            const id = await deliver(scope.domainId, entry.channel, {
              payload,
              eventType: (given.event_type as string | null | undefined) ?? undefined,
              id: (given.id as string | null | undefined) ?? undefined,
              trace: scope.trace,
            })
            scope.log('info', `channels.deliver ${code} → delivery ${id}`)
            return { delivery_id: id }
          } catch (error) {
            throw error instanceof AppError ? new ScriptApiError(`channels.deliver: ${error.message}`) : error
          }
        },
      },
      send: {
        run: async (scope, [code, message]) => {
          if (typeof code !== 'string' || code === '') throw new ScriptApiError('channels.send: code must be a channel code')
          const { channels, scripts, executor, tracing } = deps()
          const entry = channels.byCode(scope.domainId, code)
          if (!entry) throw new ScriptApiError(`channels.send: no channel '${code}' in this domain`)
          const { channel } = entry
          const scriptCode = channel.send_svcscriptcode
          if (scriptCode === '')
            throw new ScriptApiError(`channels.send: channel '${code}' has no send script (send_svcscriptcode)`)
          const script = scripts.byCode(scope.domainId, scriptCode)
          if (!script)
            throw new ScriptApiError(`channels.send: the send script '${scriptCode}' of channel '${code}' does not exist`)
          if (scope.depth >= MAX_CHAIN_DEPTH) {
            throw new ScriptApiError(
              `channels.send: more than ${MAX_CHAIN_DEPTH} sends in one chain (do send scripts call each other?)`,
            )
          }
          const span = tracing?.start(`channels.send ${code}`, {
            kind: 'internal',
            parent: scope.trace,
            attributes: { 'switchboard.channel.id': channel.id, 'switchboard.channel.code': code },
          })
          let result: ExecutionResult
          try {
            result = await executor.execute({
              domainId: scope.domainId,
              script,
              trigger: 'send',
              channel,
              startparams: [channelForScripts(channel), message],
              timeoutMs: recvTimeoutMs(channel),
              abort: scope.signal,
              depth: scope.depth + 1,
              trace: span,
            })
          } catch (error) {
            ended(span, error instanceof Error ? error.message : String(error))
            throw error instanceof AppError ? new ScriptApiError(`channels.send: ${error.message}`) : error
          }
          scope.log(
            result.status === 'ok' ? 'info' : 'warn',
            `channels.send ${code} → ${result.status} (execution ${result.id}, ${Math.round(result.durationMs)} ms)`,
          )
          const why = result.error?.message ?? result.status
          ended(span, result.status === 'ok' ? undefined : `the send script ended with ${result.status}: ${why}`, result.status)
          if (result.status === 'ok') return result.output
          throw new ScriptApiError(
            `channels.send: the send script of '${code}' ended with ${result.status}: ${why} (execution ${result.id})`,
          )
        },
      },
    },
  }
}

/** Ends a send's span: failed with `failure` (the send script's status, or `error` when it did not run). */
function ended(span: TraceSpan | undefined, failure: string | undefined, status = 'error'): void {
  if (!span) return
  if (failure !== undefined) span.fail(failure, status)
  span.end()
}
