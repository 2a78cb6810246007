import { EgressGuard } from '../../net/egress.ts'
import type { Tracing } from '../../tracing/tracing.ts'
import type { HostModule } from '../runtime/host-api.ts'
import { cryptoModule } from './crypto-module.ts'
import { type HttpCallNote, httpModule } from './http-module.ts'
import { sleepModule } from './sleep-module.ts'

export interface LocalModuleSettings {
  readonly egressAllow: readonly string[]
  readonly httpTimeoutMs: number
  readonly httpMaxResponseBytes: number
  readonly httpMaxRequestBytes: number
}

/** The script API modules that run inside a script host, beside the isolates. */
export const LOCAL_MODULE_NAMES = ['http', 'crypto', 'sleep'] as const

/**
 * `onHttpCall`: told about every outbound call, for the server's log (undefined: not logged).
 * `tracing`: this process's, for the calls' client spans (undefined: off).
 */
export function localModules(
  settings: LocalModuleSettings,
  onHttpCall?: (note: HttpCallNote) => void,
  tracing?: Tracing,
): HostModule[] {
  return [
    httpModule({
      egress: new EgressGuard(settings.egressAllow),
      defaultTimeoutMs: settings.httpTimeoutMs,
      maxResponseBytes: settings.httpMaxResponseBytes,
      maxRequestBytes: settings.httpMaxRequestBytes,
      ...(onHttpCall && { onCall: onHttpCall }),
      ...(tracing && { tracing }),
    }),
    cryptoModule,
    sleepModule,
  ]
}
