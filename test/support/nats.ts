import { randomBytes } from 'node:crypto'

/** The NATS server (with JetStream) the tests use; bin/test sets it, .ci/run makes sure it answers. */
export const TEST_NATS_URL = process.env.SWITCHBOARD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

/** A subject prefix of its own for one test, so tests sharing the server never hear each other. */
export function newNatsPrefix(): string {
  return `t${randomBytes(6).toString('hex')}`
}
