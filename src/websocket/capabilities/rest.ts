import type { InProcessApi } from '../../project-api/in-process-api.ts'
import type { FrameHandler } from '../ws-connection.ts'

/**
 * The `rest` capability (SPEC §6.4): `["rest", {qid, method, path, body}]` →
 * `["rest_result", {qid, result: "ok", status, body}]`, a call of the REST API with the token's
 * rights (the channel's `opts.roles` and `opts.userid`), audited as its user via the channel
 * (or as the channel, without `opts.userid`: InProcessApi decides). A call the
 * rights do not allow is answered like any HTTP error: `status: 403` and the error body. A frame
 * that is not a REST call (no method, a path outside `/rest/v1/`) is `result: "error"`, 1400.
 */
export function restCapability({ api }: { api: InProcessApi }): Record<string, FrameHandler> {
  return {
    rest: {
      capability: 'rest',
      async handle(connection, payload, qid) {
        const answer = await api.call(
          connection.domainId,
          { kind: 'channel', id: connection.channelId },
          payload.method,
          payload.path,
          payload.body,
        )
        if (qid !== undefined) connection.send('rest_result', { qid, result: 'ok', status: answer.status, body: answer.body })
      },
    },
  }
}
