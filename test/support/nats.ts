import { randomBytes } from 'node:crypto'
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'

/** The NATS server (with JetStream) the tests use; bin/test sets it and makes sure it answers. */
export const TEST_NATS_URL = process.env.SWITCHBOARD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

/** A subject prefix of its own for one test, so tests sharing the server never hear each other. */
export function newNatsPrefix(): string {
  return `t${randomBytes(6).toString('hex')}`
}

/**
 * Deletes the streams an installation on `prefix` made (the job queue, the files bucket), if the
 * server still answers (a test's private server may be gone by then).
 */
export async function deleteStreamsOf(prefix: string, url = TEST_NATS_URL): Promise<void> {
  let connection: NatsConnection
  try {
    connection = await connect({ servers: url, reconnect: false })
  } catch {
    return
  }
  try {
    const manager = await jetstreamManager(connection)
    for (const stream of [`${prefix}_jobs`, `OBJ_${prefix}_files`]) await manager.streams.delete(stream).catch(() => {})
  } finally {
    await connection.close()
  }
}
