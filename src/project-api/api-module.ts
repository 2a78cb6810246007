import { AppError } from '../errors.ts'
import { type HostModule, ScriptApiError } from '../scripts/runtime/host-api.ts'
import type { InProcessApi } from './in-process-api.ts'

/**
 * `api.request(method, path, body)` (SPEC §4, §10): the project REST API from a script, in the
 * main process, through the same routes (InProcessApi). A channel's script acts with the
 * channel token's rights, and its changes are audited as its `opts.userid` user via the channel
 * (or as the channel: InProcessApi decides); a test run acts as its
 * caller. Resolves `{status, body}`; refusals are answers (`status: 403`), not exceptions.
 */
export function apiModule(api: () => InProcessApi): HostModule {
  return {
    name: 'api',
    guest: `(call) => ({
      request: (method, path, body) => call('request', method, path, body === undefined ? null : body),
    })`,
    functions: {
      request: {
        run: async (scope, [method, path, body]) => {
          const actor = scope.caller ?? (scope.channel && { kind: 'channel' as const, id: scope.channel.id })
          if (!actor) throw new ScriptApiError('api.request needs a channel: the script runs without one, so it has no rights')
          try {
            // A run the call starts (POST …/run, a replay) is the next link of this execution's chain.
            const origin = { depth: scope.depth, signal: scope.signal }
            return await api().call(scope.domainId, actor, method, path, body, origin, scope.trace)
          } catch (error) {
            throw error instanceof AppError ? new ScriptApiError(`api.request: ${error.message}`) : error
          }
        },
      },
    },
  }
}
