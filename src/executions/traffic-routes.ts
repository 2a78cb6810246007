import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.ts'
import { authOf } from '../http/auth-hook.ts'
import { errorResponses, Timestamp, Uuid } from '../http/shared-schemas.ts'
import type { DocumentTable, FieldFilter } from '../store/store.ts'
import type { ExecutionStatus } from './execution-schemas.ts'

/** The window when `since` is not given, and the longest one asked for. */
const DEFAULT_WINDOW_MS = 3_600_000
const MAX_WINDOW_MS = 7 * 24 * 3_600_000
/** Executions that count as errors: failed, timed out, or failed and waiting for their next attempt. */
const FAILED: ReadonlySet<string> = new Set<ExecutionStatus>(['error', 'timeout', 'retrying'])
const PERCENTILE = 95

const TrafficQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({ format: 'date-time', description: 'executions started at or after (default: an hour ago)' }),
    ),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'executions started before (default: now)' })),
    channel_id: Type.Optional(Uuid),
  },
  { additionalProperties: false },
)

const Counts = {
  requests: Type.Integer({ description: 'executions of the channel started in the window' }),
  errors: Type.Integer({ description: 'of those, the ones that ended in error or timeout, or wait for a retry' }),
}

const ChannelTraffic = Type.Object(
  {
    channel_id: Uuid,
    ...Counts,
    p95_ms: Type.Union([Type.Number(), Type.Null()], {
      description: '95th percentile of the durations (nearest rank); null while none has ended',
    }),
    minutes: Type.Array(
      Type.Object({
        minute: Type.String({ description: 'the minute, as 2026-12-03T18:05Z', examples: ['2026-12-03T18:05Z'] }),
        ...Counts,
      }),
      { description: 'the minutes of the window with executions, oldest first' },
    ),
  },
  { additionalProperties: false },
)

const Traffic = Type.Object(
  {
    since: Timestamp,
    until: Timestamp,
    channels: Type.Array(ChannelTraffic, { description: 'channels with executions in the window, the busiest first' }),
  },
  { additionalProperties: false, title: 'Traffic' },
)
type Traffic = Static<typeof Traffic>

/**
 * `GET /rest/v1/service/executions/traffic`: per channel of the caller's domain, how many
 * executions started in a window, how many failed, their p95 duration and the same counts per
 * minute — counted by the store over every record of the window, not a sample (the console's
 * channel pages show it).
 */
export function trafficRoutes(app: FastifyInstance, executions: DocumentTable): void {
  app.get(
    '/rest/v1/service/executions/traffic',
    {
      config: { access: 'domain' },
      schema: {
        tags: ['executions'],
        operationId: 'executionTraffic',
        summary: 'Requests, errors and p95 duration per channel, and per minute, over a window of at most 7 days',
        querystring: TrafficQuery,
        response: { 200: Traffic, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request): Promise<Traffic> => {
      const auth = authOf(request)
      const query = request.query as Static<typeof TrafficQuery>
      const until = query.until === undefined ? new Date() : new Date(query.until)
      const since = query.since === undefined ? new Date(until.getTime() - DEFAULT_WINDOW_MS) : new Date(query.since)
      if (since >= until) throw new AppError('bad_request', 'since must be before until')
      if (until.getTime() - since.getTime() > MAX_WINDOW_MS) throw new AppError('bad_request', 'the window is at most 7 days')
      const filter: FieldFilter[] = [
        { path: ['started_at'], op: 'gte', value: since.toISOString() },
        { path: ['started_at'], op: 'lt', value: until.toISOString() },
        ...(query.channel_id === undefined ? [] : [{ path: ['channel_id'], value: query.channel_id }]),
      ]
      const scope = auth.domain.id
      const [counted, p95] = await Promise.all([
        executions.countGrouped(scope, filter, ['channel_id', 'started_at', 'status'], 'started_at'),
        executions.percentileBy(scope, filter, 'channel_id', ['duration_ms'], PERCENTILE),
      ])
      const channels = new Map<string, Map<string, { requests: number; errors: number }>>()
      for (const { values, count } of counted) {
        const [channelId, minute, status] = values
        // Runs of a script started by hand or by another script belong to no channel.
        if (channelId === null || channelId === undefined || minute === null || minute === undefined) continue
        const minutes = channels.get(channelId) ?? new Map<string, { requests: number; errors: number }>()
        channels.set(channelId, minutes)
        const counts = minutes.get(minute) ?? { requests: 0, errors: 0 }
        minutes.set(minute, counts)
        counts.requests += count
        if (FAILED.has(status ?? '')) counts.errors += count
      }
      const answer = [...channels].map(([channelId, minutes]) => {
        const perMinute = [...minutes]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([minute, counts]) => ({ minute: `${minute}Z`, ...counts }))
        return {
          channel_id: channelId,
          requests: perMinute.reduce((sum, one) => sum + one.requests, 0),
          errors: perMinute.reduce((sum, one) => sum + one.errors, 0),
          p95_ms: p95.get(channelId) ?? null,
          minutes: perMinute,
        }
      })
      answer.sort((a, b) => b.requests - a.requests || a.channel_id.localeCompare(b.channel_id))
      return { since: since.toISOString(), until: until.toISOString(), channels: answer }
    },
  )
}
