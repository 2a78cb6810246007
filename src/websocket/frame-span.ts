import type { TraceSpan, Tracing } from '../tracing/tracing.ts'
import type { WsConnection } from './ws-connection.ts'

/**
 * The span of one websocket request frame that runs a script (`ws message`,
 * `ws start_svcscript`): a server span, the parent of the run's. Frames carry no trace context
 * of their own (SPEC §6.2), so each starts a trace; it links the upgrade request's trace when
 * that sent one, and the connection's ids tie the frames together.
 */
export function startFrameSpan(tracing: Tracing, connection: WsConnection, frame: string): TraceSpan {
  return tracing.start(`ws ${frame}`, {
    kind: 'server',
    ...(connection.trace && { links: [connection.trace] }),
    attributes: {
      'switchboard.ws.frame': frame,
      'switchboard.connection.id': connection.id,
      'switchboard.channel.id': connection.channelId,
      'switchboard.channel.code': connection.channel.code,
      'switchboard.request_id': connection.requestId,
    },
  })
}

/** Ends a frame's span: an error when the handler threw, or its run did not end `ok`. */
export function endFrameSpan(span: TraceSpan, outcome: { status: string } | { error: unknown }): void {
  if ('error' in outcome) {
    const { error } = outcome
    span.fail(error instanceof Error ? error.message : String(error), 'error')
  } else if (outcome.status !== 'ok') {
    span.fail(`the script ended with ${outcome.status}`, outcome.status)
  }
  span.end()
}
