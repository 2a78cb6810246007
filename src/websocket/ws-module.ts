import { AppError } from '../errors.ts'
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS } from '../scripts/run-limits.ts'
import { type HostModule, ScriptApiError } from '../scripts/runtime/host-api.ts'
import type { WsPush } from './ws-push.ts'

/**
 * `ws.send(target, name, data, {sync, timeout})` (SPEC §4, §7): a push to a websocket connection
 * (by id) or to every connection of a channel (`{channel: code}`). Runs in the main process (the
 * script hosts forward the call), where the connections are.
 */
export function wsModule(push: () => WsPush): HostModule {
  return {
    name: 'ws',
    guest: `(call) => ({
      send: (target, name, data, options) => call('send', target, name, data === undefined ? null : data, options ?? {}),
    })`,
    functions: {
      send: {
        run: async (scope, [target, name, data, options]) => {
          const { sync = false, timeout = DEFAULT_TIMEOUT_MS } = (options ?? {}) as { sync?: unknown; timeout?: unknown }
          if (typeof sync !== 'boolean') throw new ScriptApiError('ws.send: options.sync must be true or false')
          if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > MAX_TIMEOUT_MS) {
            throw new ScriptApiError(`ws.send: options.timeout must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}`)
          }
          try {
            return await push().send(scope.domainId, target, name, data, {
              sync,
              timeoutMs: timeout,
              requestId: scope.requestId,
              depth: scope.depth,
            })
          } catch (error) {
            throw error instanceof AppError ? new ScriptApiError(error.message) : error
          }
        },
      },
    },
  }
}
