import { type Static, Type } from '@sinclair/typebox'
import { Timestamp, Uuid } from '../http/shared-schemas.ts'

export const TRIGGERS = ['http', 'ws', 'svcscript', 'send', 'event', 'replay'] as const
export type Trigger = (typeof TRIGGERS)[number]

/** `retrying`: an async run failed and attempts remain (`next_attempt_at` says when the next one runs). */
export const STATUSES = ['queued', 'running', 'retrying', 'ok', 'error', 'timeout', 'aborted'] as const
export type ExecutionStatus = (typeof STATUSES)[number]

const LogLine = Type.Object({
  ms: Type.Number({ description: 'milliseconds since the execution started' }),
  level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]),
  text: Type.String(),
})
export type LogLine = Static<typeof LogLine>

const ExecutionError = Type.Object({
  message: Type.String(),
  line: Type.Optional(Type.Integer({ description: 'line in the script source, when known' })),
  column: Type.Optional(Type.Integer()),
})
export type ExecutionError = Static<typeof ExecutionError>

/** One run of an async job (the last run is the record itself); `at` is when it started. */
const Attempt = Type.Object({
  at: Timestamp,
  status: Type.Union(STATUSES.map((status) => Type.Literal(status))),
  duration_ms: Type.Number(),
  error: Type.Union([ExecutionError, Type.Null()]),
})
export type Attempt = Static<typeof Attempt>

/** Any JSON; bodies over the bound are `{truncated: true, size, preview}` (SPEC §5.5). */
const Json = Type.Unknown()

export const Execution = Type.Object(
  {
    id: Uuid,
    channel_id: Type.Union([Uuid, Type.Null()]),
    script_code: Type.String(),
    trigger: Type.Union(TRIGGERS.map((trigger) => Type.Literal(trigger))),
    status: Type.Union(STATUSES.map((status) => Type.Literal(status))),
    started_at: Timestamp,
    duration_ms: Type.Number(),
    input: Json,
    output: Json,
    logs: Type.Array(LogLine),
    error: Type.Union([ExecutionError, Type.Null()]),
    replay_of: Type.Union([Uuid, Type.Null()]),
    script_version: Type.Optional(
      Type.Integer({ minimum: 1, description: 'the version of the script that ran (its `version`)' }),
    ),
    request_id: Type.Optional(
      Type.Union([Type.String(), Type.Null()], {
        description: 'the id of the request that caused the run (its X-Request-Id; the log lines carry it as reqId)',
      }),
    ),
    duplicates: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: "how many webhooks came again with this one's opts.dedup key and got its answer instead of running",
      }),
    ),
    trace_id: Type.Optional(
      Type.String({
        pattern: '^[0-9a-f]{32}$',
        description:
          "the run's trace (OpenTelemetry, 32 hex digits; the caller's own when its request sent a traceparent); absent when tracing was off",
      }),
    ),
    attempts: Type.Optional(Type.Array(Attempt, { description: 'async webhooks: every run of the job, the last one included' })),
    attempt: Type.Optional(
      Type.Integer({ minimum: 1, description: 'async webhooks: which run of the job this record shows (1-based)' }),
    ),
    max_attempts: Type.Optional(
      Type.Integer({ minimum: 1, description: 'async webhooks: runs the job gets before it stays failed' }),
    ),
    next_attempt_at: Type.Optional(
      Type.String({ description: 'status `retrying`: when the next run of the job is due (RFC 3339 UTC)' }),
    ),
  },
  { additionalProperties: false, title: 'Execution' },
)
export type Execution = Static<typeof Execution>
