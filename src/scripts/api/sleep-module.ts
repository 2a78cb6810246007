import { type HostModule, ScriptApiError } from '../runtime/host-api.ts'

/** `sleep(ms)` (SPEC §4): resolves after `ms`, or fails when the execution ends first. */
export const sleepModule: HostModule = {
  name: 'sleep',
  guest: `(call) => (ms) => call('wait', ms)`,
  functions: {
    wait: {
      run: (scope, [ms]) => {
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
          throw new ScriptApiError('sleep: ms must be a non-negative number')
        return new Promise<void>((resolve, reject) => {
          if (scope.signal.aborted) return reject(new ScriptApiError('the execution ended'))
          const timer = setTimeout(() => {
            scope.signal.removeEventListener('abort', stop)
            resolve()
          }, ms)
          const stop = () => {
            clearTimeout(timer)
            reject(new ScriptApiError('the execution ended'))
          }
          scope.signal.addEventListener('abort', stop, { once: true })
        })
      },
    },
  },
}
