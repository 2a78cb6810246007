import { AppError } from '../errors.ts'
import { type HostModule, ScriptApiError } from '../scripts/runtime/host-api.ts'
import type { Events } from './events.ts'

/**
 * `events.emit(name, data)` (SPEC §4, §8): a project event `projectevents.<name>` in the
 * script's domain. Resolves with the event's id once it is on the bus. Runs in the main process.
 */
export function eventsModule(events: Events): HostModule {
  return {
    name: 'events',
    guest: `(call) => ({
      emit: (name, data) => call('emit', name, data === undefined ? null : data),
    })`,
    functions: {
      emit: {
        run: (scope, [name, data]) => {
          try {
            return events.emitProject(scope.domainId, name, data).id
          } catch (error) {
            throw error instanceof AppError ? new ScriptApiError(error.message) : error
          }
        },
      },
    },
  }
}
