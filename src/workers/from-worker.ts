import type { FromWorker } from './link-protocol.ts'

const isString = (value: unknown): value is string => typeof value === 'string'
const isInteger = (value: unknown): value is number => Number.isInteger(value)

/**
 * Whether a message from a worker fits the protocol (link-protocol.ts FromWorker); fields it does
 * not know are let through, as TypeBox does, so a newer worker can add some. Written by
 * hand for the supervisor: TypeBox's checker would add about 12 MB to a process that otherwise
 * holds little (measured); from-worker.test.ts keeps the two in step.
 */
export function isFromWorker(message: unknown): message is FromWorker {
  if (typeof message !== 'object' || message === null) return false
  const m = message as Record<string, unknown>
  switch (m.t) {
    case 'bus.sub':
      return isInteger(m.id) && isString(m.subject) && (m.group === undefined || isString(m.group))
    case 'bus.unsub':
      return isInteger(m.id)
    case 'bus.pub':
      return isString(m.subject) && 'message' in m
    case 'bus.flush':
      return isInteger(m.id)
    case 'ready':
      return (
        isString(m.url) && isString(m.node) && typeof m.firstStart === 'boolean' && (m.rootKey === null || isString(m.rootKey))
      )
    case 'tainted':
      return isString(m.reason)
    default:
      return false
  }
}
