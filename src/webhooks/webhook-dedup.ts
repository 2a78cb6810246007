import { createHash } from 'node:crypto'
import type { Channel } from '../channels/channel-schemas.ts'
import { errorBody } from '../errors.ts'
import type { Doc, Store } from '../store/store.ts'
import type { WebhookInput } from './webhook-input.ts'
import type { WebhookReply } from './webhook-reply.ts'

/** The header naming the execution whose reply a duplicate got. */
export const DUPLICATE_HEADER = 'switchboard-duplicate-of'
/** The longest reply body kept for duplicates, bytes. */
const MAX_REPLY_BYTES = 1024 * 1024
const DEFAULT_WINDOW_S = 86_400
/** A claim of a sync run outlives the run's timeout by this much before another may take over (its worker died). */
const LEASE_MARGIN_MS = 5000

/** A key as the store keeps it (the `dedup` table's document). */
interface KeyDoc {
  readonly id: string
  /** The execution that holds the key: the first webhook with it. */
  readonly first_id: string
  /** `running`: a sync run is on its way; `done`: its reply is kept (sync) or its job accepted (async). */
  readonly state: 'running' | 'done'
  /** Until when (ms) a `running` claim holds. */
  readonly claimed_until: number
  /** RFC 3339: when the window ends and the key is forgotten. */
  readonly expires_at: string
  readonly duplicates: number
  readonly reply: StoredReply | null
}

interface StoredReply {
  readonly status: number
  readonly headers: Record<string, string>
  /** Base64, at most MAX_REPLY_BYTES. */
  readonly body: string
}

export interface WebhookDedupOptions {
  readonly store: Store
  /** Counts a duplicate (metrics). */
  readonly duplicate?: (domainId: string, channel: Channel) => void
  /** How often expired keys are removed, ms; undefined: never here (another worker does it). */
  readonly purgeEveryMs?: number | undefined
  readonly onError: (error: unknown) => void
}

/** What a sync run gives back: its reply, and when its record is stored. */
export interface SyncRun {
  readonly reply: WebhookReply
  readonly recorded: Promise<boolean>
}

/**
 * `opts.dedup` (docs/webhooks.md, "Duplicates"): a webhook whose key this channel saw within the
 * window does not run again. The keys live in the store (the `dedup` table), claimed in a
 * transaction under a lock on the key, so every worker and every node sharing the store agrees
 * on which webhook came first. A sync duplicate gets the first one's reply, waiting while it
 * runs; an async duplicate the first one's execution id. The first execution's record counts
 * the duplicates (`duplicates`).
 */
export class WebhookDedup {
  readonly #options: WebhookDedupOptions
  readonly #purge: NodeJS.Timeout | undefined

  constructor(options: WebhookDedupOptions) {
    this.#options = options
    const every = options.purgeEveryMs
    this.#purge =
      every === undefined
        ? undefined
        : setInterval(() => {
            options.store.table('dedup').removeBefore('expires_at', new Date().toISOString()).catch(options.onError)
          }, every).unref()
  }

  close(): void {
    if (this.#purge) clearInterval(this.#purge)
  }

  /** The webhook's key under the channel's `opts.dedup`, or undefined (no setting, or no key: it runs normally). */
  keyOf(channel: Channel, input: WebhookInput): string | undefined {
    const key = channel.opts.dedup?.key
    if (key === undefined) return undefined
    if (key.startsWith('header:')) {
      const value = input.headers[key.slice('header:'.length).toLowerCase()]
      return value === undefined || value === '' ? undefined : value
    }
    if (input.body.kind !== 'json') return undefined
    let value: unknown
    try {
      value = JSON.parse(input.body.text)
    } catch {
      return undefined
    }
    for (const part of key.slice('body:'.length).split('.')) {
      value =
        value !== null && typeof value === 'object' && !Array.isArray(value)
          ? (value as Record<string, unknown>)[part]
          : undefined
    }
    if (typeof value === 'string' && value !== '') return value
    if (typeof value === 'number' && Number.isFinite(value)) return String(value)
    return undefined
  }

  /**
   * A sync webhook with key `key`: runs it (`run`, with the execution id it is to have) if the
   * key is new or its window ended, else answers the first one's reply with `Switchboard-Duplicate-Of`,
   * waiting for it (up to `timeoutMs`) while it runs. A first run whose worker died is taken over.
   */
  async sync(
    domainId: string,
    channel: Channel,
    key: string,
    executionId: string,
    timeoutMs: number,
    run: (executionId: string) => Promise<SyncRun>,
  ): Promise<WebhookReply> {
    const id = keyId(channel.id, key)
    const deadline = Date.now() + timeoutMs
    let wait = 10
    for (let first = true; ; first = false) {
      const now = Date.now()
      const held = await this.#claim(domainId, channel, id, {
        first_id: executionId,
        state: 'running',
        claimed_until: now + timeoutMs + LEASE_MARGIN_MS,
        countDuplicate: first,
      })
      if (!held) return this.#runFirst(domainId, id, executionId, run)
      if (held.state === 'done') return replayed(held)
      if (now >= deadline) {
        return stillRunning(held.first_id)
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(wait, deadline - now)))
      wait = Math.min(wait * 2, 200)
    }
  }

  /**
   * An async webhook with key `key`: accepts it (`accept`, with the execution id it is to have)
   * if the key is new, else answers the first one's execution id.
   */
  async async(
    domainId: string,
    channel: Channel,
    key: string,
    executionId: string,
    accept: (executionId: string) => Promise<string>,
  ): Promise<{ execution_id: string; duplicate?: true }> {
    const id = keyId(channel.id, key)
    const held = await this.#claim(domainId, channel, id, {
      first_id: executionId,
      state: 'done',
      claimed_until: 0,
      countDuplicate: true,
    })
    if (held) return { execution_id: held.first_id, duplicate: true }
    try {
      return { execution_id: await accept(executionId) }
    } catch (error) {
      await this.#release(domainId, id, executionId)
      throw error
    }
  }

  /**
   * After an async webhook's run is recorded: its record gets the count of duplicates that came
   * before (those that come later add to it themselves).
   */
  async recorded(domainId: string, channelId: string, key: string, executionId: string): Promise<void> {
    try {
      const found = (await this.#options.store.table('dedup').get(domainId, keyId(channelId, key))) as KeyDoc | undefined
      if (found && found.first_id === executionId && found.duplicates > 0) {
        await this.#countOnRecord(domainId, executionId, found.duplicates)
      }
    } catch (error) {
      // Only the count on the record is missing: the job itself is done.
      this.#options.onError(error)
    }
  }

  async #runFirst(domainId: string, id: string, executionId: string, run: (executionId: string) => Promise<SyncRun>) {
    let done: SyncRun
    try {
      done = await run(executionId)
    } catch (error) {
      // Not run (too many in flight, the channel gone): the key is free for the sender's retry.
      await this.#release(domainId, id, executionId)
      throw error
    }
    // Duplicates count on the record: release them once it is stored, so their count lands on it.
    void done.recorded.then(() => this.#finish(domainId, id, executionId, done.reply)).catch(this.#options.onError)
    return done.reply
  }

  /**
   * Takes the key for `claim.first_id` unless a live claim holds it: a new key, one whose window
   * ended, or a `running` one whose lease ended. Answers the holding key (counted as a duplicate
   * when `countDuplicate`), or undefined when the caller now holds it.
   */
  async #claim(
    domainId: string,
    channel: Channel,
    id: string,
    claim: Pick<KeyDoc, 'first_id' | 'state' | 'claimed_until'> & { countDuplicate: boolean },
  ): Promise<KeyDoc | undefined> {
    const { countDuplicate, ...fields } = claim
    const windowS = channel.opts.dedup?.window_s ?? DEFAULT_WINDOW_S
    const held = await this.#options.store.transaction(async (tx) => {
      await tx.lock(`dedup.${id}`)
      const table = tx.table('dedup')
      const now = Date.now()
      const found = (await table.get(domainId, id)) as KeyDoc | undefined
      const live =
        found !== undefined && Date.parse(found.expires_at) > now && (found.state === 'done' || found.claimed_until > now)
      if (found && live) {
        if (!countDuplicate) return found
        const counted: KeyDoc = { ...found, duplicates: found.duplicates + 1 }
        await table.update(domainId, counted as unknown as Doc)
        return counted
      }
      const doc: KeyDoc = {
        id,
        ...fields,
        expires_at: new Date(now + windowS * 1000).toISOString(),
        duplicates: 0,
        reply: null,
      }
      if (found) await table.update(domainId, doc as unknown as Doc)
      else await table.insert(domainId, doc as unknown as Doc)
      return undefined
    })
    if (held && countDuplicate) {
      this.#options.duplicate?.(domainId, channel)
      // The first's record may not be stored yet (async, still queued): then its run counts them.
      await this.#countOnRecord(domainId, held.first_id, held.duplicates)
    }
    return held
  }

  async #finish(domainId: string, id: string, executionId: string, reply: WebhookReply): Promise<void> {
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : Buffer.from(reply.body)
    const stored: StoredReply = {
      status: reply.status,
      headers: reply.headers,
      body: body.subarray(0, MAX_REPLY_BYTES).toString('base64'),
    }
    const duplicates = await this.#options.store.transaction(async (tx) => {
      await tx.lock(`dedup.${id}`)
      const found = (await tx.table('dedup').get(domainId, id)) as KeyDoc | undefined
      if (!found || found.first_id !== executionId) return 0
      await tx.table('dedup').update(domainId, { ...found, state: 'done', reply: stored } as unknown as Doc)
      return found.duplicates
    })
    // Duplicates that came while it ran: their count could not land on a record not yet stored.
    if (duplicates > 0) await this.#countOnRecord(domainId, executionId, duplicates)
  }

  async #release(domainId: string, id: string, executionId: string): Promise<void> {
    await this.#options.store.transaction(async (tx) => {
      await tx.lock(`dedup.${id}`)
      const found = (await tx.table('dedup').get(domainId, id)) as KeyDoc | undefined
      if (found?.first_id === executionId) await tx.table('dedup').remove(domainId, id)
    })
  }

  /** Sets the first execution's `duplicates` to at least `count` (the counts only grow). */
  async #countOnRecord(domainId: string, executionId: string, count: number): Promise<void> {
    await this.#options.store.transaction(async (tx) => {
      await tx.lock(`execution.${executionId}`)
      const record = await tx.table('executions').get(domainId, executionId)
      if (!record || (typeof record.duplicates === 'number' && record.duplicates >= count)) return
      await tx.table('executions').update(domainId, { ...record, duplicates: count })
    })
  }
}

/** A key's id: the channel and the key hashed (keys are the sender's text, of any length). */
function keyId(channelId: string, key: string): string {
  return createHash('sha256').update(channelId).update('\u0000').update(key).digest('base64url')
}

function replayed(held: KeyDoc): WebhookReply {
  const reply = held.reply
  if (!reply) {
    // An async webhook's key (the channel was async then): there is no reply, only the execution.
    return {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8', [DUPLICATE_HEADER]: held.first_id },
      body: JSON.stringify({ execution_id: held.first_id, duplicate: true }),
    }
  }
  return {
    status: reply.status,
    headers: { ...reply.headers, [DUPLICATE_HEADER]: held.first_id },
    body: Buffer.from(reply.body, 'base64'),
  }
}

/** A duplicate that waited the channel's timeout for the first one, in vain. */
function stillRunning(firstId: string): WebhookReply {
  return {
    status: 504,
    headers: { 'content-type': 'application/json; charset=utf-8', [DUPLICATE_HEADER]: firstId },
    body: JSON.stringify(errorBody(504, `the first webhook with this key (execution ${firstId}) is still running`)),
  }
}
