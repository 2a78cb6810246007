import type { CollectionService } from '../collections/collection-service.ts'
import { ALL_RIGHTS } from '../iam/permissions.ts'
import type { Logger } from '../logger.ts'
import { type RunnableScript, scriptVersionKey } from '../scripts/runtime/script-runtime.ts'
import type { ScriptDirectory } from '../scripts/script-directory.ts'
import type { Quarantine } from '../scripts/svcscript-schemas.ts'

export interface ContainmentOptions {
  readonly scripts: ScriptDirectory
  readonly scriptService: CollectionService
  readonly logger: Logger
  /**
   * This process holds an isolate V8 may not have stopped: it should stop taking work, finish
   * what it runs and be replaced (the supervisor does; a process of its own only reports it).
   */
  readonly replaceMe: (reason: string) => void
  /** Counted per cause (a metric). */
  readonly counted: () => void
}

const ACTOR = { kind: 'system', id: 'containment' } as const

/**
 * What happens when an isolate of this worker reached its memory limit (SPEC §13, DESIGN §1.1):
 * V8 may not have stopped it, so the worker is tainted — it asks to be replaced — and the script
 * version that did it is quarantined, persisted on the script, so that from then on it runs only
 * in script hosts, on every worker and after restarts.
 */
export class Containment {
  readonly #options: ContainmentOptions
  #tainted: string | undefined
  readonly #quarantined = new Set<string>()

  constructor(options: ContainmentOptions) {
    this.#options = options
  }

  /** Why this process is tainted, or undefined. */
  get tainted(): string | undefined {
    return this.#tainted
  }

  /** Resolves once the script's quarantine is written (or could not be: logged). */
  taint(script: RunnableScript, reason: string): Promise<void> {
    const { logger } = this.#options
    this.#options.counted()
    const quarantined = this.#quarantine(script, reason).catch((error: unknown) =>
      logger.error({ err: error, script_id: script.id }, 'the script could not be quarantined'),
    )
    if (this.#tainted === undefined) {
      this.#tainted = reason
      logger.error({ script_id: script.id, reason }, 'an isolate reached its memory limit; this worker will be replaced')
      this.#options.replaceMe(reason)
    }
    return quarantined
  }

  async #quarantine(script: RunnableScript, reason: string): Promise<void> {
    const version = scriptVersionKey(script)
    if (this.#quarantined.has(version)) return
    this.#quarantined.add(version)
    const current = this.#options.scripts.byId(script.id)
    // Saved again meanwhile: the new version has not done anything yet.
    if (!current || scriptVersionKey(current.script) !== version || current.script.quarantined !== undefined) return
    const quarantined: Quarantine = { since: new Date().toISOString(), reason, version }
    await this.#options.scriptService.update({ scope: current.domainId, actor: ACTOR, rights: ALL_RIGHTS }, script.id, {
      quarantined,
    })
    this.#options.logger.warn(
      { script_id: script.id, domain_id: current.domainId },
      'script quarantined: it runs in script hosts only until it changes or is released',
    )
  }
}
