import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, type ErrorBody, errorBody, type FieldError } from '../errors.ts'
import { storageFull } from '../store/storage-errors.ts'
import { PATTERN_MESSAGES } from './shared-schemas.ts'

interface AjvError {
  readonly instancePath: string
  readonly keyword: string
  readonly params: Record<string, unknown>
  readonly message?: string
}

/** Plain words for the errors fastify itself raises before a handler runs. */
const FASTIFY_MESSAGES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'the body is larger than this endpoint accepts',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'this Content-Type is not accepted here; send application/json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_BAD_URL: 'the URL is malformed',
  FST_ERR_ASYNC_CONSTRAINT: 'the request could not be routed',
}

export interface HttpError {
  readonly status: number
  readonly body: ErrorBody
}

/** Maps anything thrown while serving a request onto the one error shape of SPEC §2. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof AppError) return { status: error.status, body: error.toBody() }
  const fastifyError = error as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string }
  if (Array.isArray(fastifyError.validation)) {
    const details = validationDetails(fastifyError.validation, fastifyError.validationContext ?? 'body')
    const first = details[0]
    const part = fastifyError.validationContext === 'querystring' ? 'query' : (fastifyError.validationContext ?? 'body')
    const message = first ? `invalid ${part}: ${first.field} ${first.message}` : `invalid ${part}`
    return { status: 400, body: errorBody(400, message, details) }
  }
  const status = fastifyError.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const message = (fastifyError.code && FASTIFY_MESSAGES[fastifyError.code]) ?? fastifyError.message ?? 'bad request'
    return { status, body: errorBody(status, message) }
  }
  if (storageFull(error)) {
    return {
      status: 507,
      body: errorBody(507, 'the server’s storage is full: nothing was stored; try again once an operator has made room'),
    }
  }
  return { status: 500, body: errorBody(500, 'internal error') }
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = toHttpError(error)
  if (status >= 500) request.log.error({ err: error }, 'request failed')
  return reply.code(status).type('application/json; charset=utf-8').send(body)
}

function validationDetails(errors: readonly AjvError[], context: string): FieldError[] {
  // Alternatives (`anyOf`) report one error per branch, then the anyOf itself. A branch that
  // failed deeper inside the value is the one the client meant; otherwise merge the branches.
  const anyOf = errors.find((error) => error.keyword === 'anyOf')
  if (anyOf) {
    const branches = errors.filter((error) => error.keyword !== 'anyOf')
    const deeper = branches.filter((error) => error.instancePath.length > anyOf.instancePath.length)
    if (deeper.length > 0) return validationDetails(deeper, context)
    const field = fieldName(anyOf.instancePath, context)
    if (branches.length > 0 && branches.every((error) => error.keyword === 'const')) {
      const allowed = branches.map((error) => JSON.stringify(error.params.allowedValue))
      return [{ field, message: `must be one of ${allowed.join(', ')}` }]
    }
    const messages = [...new Set(branches.map(describe))]
    return [{ field, message: messages.join(', or ') || 'has an invalid value' }]
  }
  return errors.map((error) => {
    if (error.keyword === 'required') {
      return {
        field: fieldName(`${error.instancePath}/${String(error.params.missingProperty)}`, context),
        message: 'is required',
      }
    }
    if (error.keyword === 'additionalProperties') {
      const name = fieldName(`${error.instancePath}/${String(error.params.additionalProperty)}`, context)
      return { field: name, message: context === 'body' ? 'is not a known field' : 'is not a known parameter' }
    }
    return { field: fieldName(error.instancePath, context), message: describe(error) }
  })
}

function describe(error: AjvError): string {
  if (error.keyword === 'pattern') return PATTERN_MESSAGES[String(error.params.pattern)] ?? error.message ?? 'is invalid'
  return error.message ?? 'is invalid'
}

function fieldName(instancePath: string, context: string): string {
  const name = instancePath
    .split('/')
    .filter((part) => part !== '')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .join('.')
  return name === '' ? context : name
}
