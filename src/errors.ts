/**
 * The one error catalogue. Every error the server produces goes out as
 * `{error_code: 1000 + status, error_message, error_details?}` (SPEC §2).
 */
export const ERRORS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  /** `If-Match` names no ETag the entity still has (SPEC §2): nothing was changed. */
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  /** A plain HTTP request to a websocket endpoint. */
  upgrade_required: 426,
  rate_limited: 429,
  /** The client stopped the run (websocket `abort_svcscript`); 499 as nginx uses it. */
  aborted: 499,
  internal: 500,
  unavailable: 503,
  script_timeout: 504,
  /** The database or the data directory's disk is full. */
  insufficient_storage: 507,
  /** A run that would be more than MAX_CHAIN_DEPTH executions deep in one chain (scripts starting each other). */
  loop_detected: 508,
} as const satisfies Record<string, number>

export type ErrorName = keyof typeof ERRORS

export interface FieldError {
  readonly field: string
  readonly message: string
}

export interface ErrorBody {
  error_code: number
  error_message: string
  error_details?: FieldError[]
}

export class AppError extends Error {
  override readonly name = 'AppError'
  readonly kind: ErrorName
  readonly details: FieldError[] | undefined

  constructor(kind: ErrorName, message: string, details?: FieldError[], options?: ErrorOptions) {
    super(message, options)
    this.kind = kind
    this.details = details
  }

  get status(): number {
    return ERRORS[this.kind]
  }

  toBody(): ErrorBody {
    return errorBody(this.status, this.message, this.details)
  }
}

/**
 * The one place that builds the wire shape of an error: HTTP answers, webhook failures and
 * websocket error frames (which add their `qid`) all go through here.
 */
export function errorBody(status: number, message: string, details?: FieldError[]): ErrorBody {
  const body: ErrorBody = { error_code: 1000 + status, error_message: message }
  if (details) body.error_details = details
  return body
}

/** A validation failure on one field: 1400 with the field named in `error_details`. */
export function invalidField(field: string, message: string): AppError {
  return new AppError('bad_request', `${field} ${message}`, [{ field, message }])
}
