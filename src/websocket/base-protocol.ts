import { channelForScripts, recvTimeoutMs } from '../channels/channel-runtime.ts'
import type { DomainDirectory } from '../domains/domain-directory.ts'
import { errorBody } from '../errors.ts'
import type { ScriptDirectory } from '../scripts/script-directory.ts'
import type { ExecutionResult, ScriptExecutor } from '../scripts/script-executor.ts'
import type { Tracing } from '../tracing/tracing.ts'
import { endFrameSpan, startFrameSpan } from './frame-span.ts'
import type { FrameHandler, WsConnection } from './ws-connection.ts'

export interface BaseProtocolDeps {
  readonly domains: DomainDirectory
  readonly scripts: ScriptDirectory
  readonly executor: ScriptExecutor
  /** The node's name: `site` in `connection_info_result` (the `node` of the connection listing). */
  readonly site: string
  /** Events the connection lost because it did not read them fast enough. */
  readonly eventsDropped: (connection: WsConnection) => number
  /** A span per `message` frame, the parent of its run's. Default: off. */
  readonly tracing?: Tracing | undefined
}

/** The frames every connection has (SPEC §6.3): `connection_info` and `message`. */
export function baseProtocol(deps: BaseProtocolDeps): Record<string, FrameHandler> {
  return {
    connection_info: {
      handle(connection, _payload, qid) {
        const now = new Date()
        connection.send('connection_info_result', {
          qid,
          result: 'ok',
          domain: deps.domains.byId(connection.domainId)?.name ?? null,
          connectionid: connection.id,
          sessionid: connection.id,
          site: deps.site,
          ownertype: 'integration_point',
          capabilities: connection.capabilities(),
          integration_point_id: connection.channelId,
          integration_point_type: connection.channel.type,
          roles: connection.channel.opts.roles,
          datetime: now.toISOString(),
          timestamp: now.getTime(),
          events_dropped: deps.eventsDropped(connection),
        })
      },
    },

    message: {
      async handle(connection, payload, qid) {
        const channel = connection.channel
        const code = channel.recv_svcscriptcode_ws
        const script = code === '' ? undefined : deps.scripts.byCode(connection.domainId, code)
        if (!script) {
          const why =
            code === '' ? 'the channel has no script for messages (recv_svcscriptcode_ws)' : `the script '${code}' does not exist`
          if (qid !== undefined) connection.send('message_result', { qid, success: false, ...errorBody(404, why) })
          return
        }
        const span = deps.tracing && startFrameSpan(deps.tracing, connection, 'message')
        let result: ExecutionResult
        try {
          result = await deps.executor.execute({
            domainId: connection.domainId,
            script,
            trigger: 'ws',
            channel,
            startparams: [channelForScripts(channel), payload.data ?? null, connection.id, qid ?? null],
            timeoutMs: recvTimeoutMs(channel),
            requestId: connection.requestId,
            trace: span,
          })
        } catch (error) {
          if (span) endFrameSpan(span, { error })
          throw error
        }
        if (span) endFrameSpan(span, result)
        if (qid === undefined) return
        if (result.status === 'ok') {
          connection.send('message_result', { qid, success: true, data: result.output.result ?? null })
        } else {
          const timedOut = result.status === 'timeout'
          connection.send('message_result', {
            qid,
            success: false,
            ...errorBody(
              timedOut ? 504 : 500,
              `${timedOut ? 'the script did not answer in time' : 'script failed'} (execution ${result.id})`,
            ),
          })
        }
      },
      errorAnswer: (qid, error) => ({ qid, success: false, ...error }),
    },
  }
}
