import type { FastifyInstance } from 'fastify'
import { AppError } from '../errors.ts'
import { jsonTooDeep, MAX_JSON_DEPTH } from './json-depth.ts'

/**
 * The JSON body parser. Like fastify's own it refuses `__proto__` and `constructor.prototype`
 * keys (prototype poisoning: a merge would assign them), but says which of the problems it is.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') return done(new AppError('bad_request', 'the body is empty but Content-Type says JSON'), undefined)
    if (jsonTooDeep(text)) return done(new AppError('bad_request', tooDeepMessage()), undefined)
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      const detail = error instanceof SyntaxError ? `: ${error.message}` : ''
      return done(new AppError('bad_request', `the body is not valid JSON${detail}`), undefined)
    }
    if ((text.includes('__proto__') || text.includes('constructor')) && poisoned(value)) {
      return done(new AppError('bad_request', 'the body uses a forbidden key (__proto__ or constructor.prototype)'), undefined)
    }
    done(null, value)
  })
}

function poisoned(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return value.some(poisoned)
  for (const [key, child] of Object.entries(value)) {
    if (key === '__proto__') return true
    if (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) return true
    if (poisoned(child)) return true
  }
  return false
}

export function tooDeepMessage(): string {
  return `the body nests arrays and objects more than ${MAX_JSON_DEPTH} deep`
}
