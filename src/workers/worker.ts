import { createApp } from '../app.ts'
import { loadConfig, loadWorkerIdentity } from '../config.ts'
import { createLogger } from '../logger.ts'
import { WorkerLink } from './worker-link.ts'

/** Past the shutdown bound, this much more for the records and the store; then the worker leaves anyway. */
const SHUTDOWN_SLACK_MS = 20_000

/**
 * One worker of a node (SPEC §13): the whole app on the node's shared port, its bus relayed by
 * the supervisor. It leaves when the supervisor tells it to drain, or when the supervisor is gone.
 */
export async function runWorker(): Promise<void> {
  const config = loadConfig()
  const identity = loadWorkerIdentity()
  if (identity === undefined) throw new Error('a worker is started by the supervisor (switchboard serve)')
  const logger = createLogger(config.logLevel).child({ worker: identity.index })
  const link = new WorkerLink(identity.index, identity.epoch, (message) =>
    logger.error(
      { message: JSON.stringify(message).slice(0, 200) },
      'the supervisor sent a message this worker does not know; ignored',
    ),
  )
  // Ctrl-C reaches every process of the terminal's group: the supervisor decides, workers drain when told.
  process.on('SIGINT', () => {})
  let tainted = false
  let app: Awaited<ReturnType<typeof createApp>>
  try {
    app = await createApp(config, {
      logger,
      worker: link,
      replaceMe: (reason) => {
        tainted = true
        link.send({ t: 'tainted', reason })
      },
    })
  } catch (error) {
    logger.fatal({ err: error }, 'the worker could not start')
    process.exit(1)
  }
  const url = await app.listen()
  link.send({
    t: 'ready',
    url,
    node: app.nodeId,
    firstStart: app.firstStart,
    rootKey: app.rootKey.generated ?? null,
  })

  let leaving = false
  const leave = (code: 1001 | 1012, why: string) => {
    if (leaving) return
    leaving = true
    logger.info({ code, why }, 'worker draining')
    setTimeout(() => exit(1), config.shutdownTimeoutMs + SHUTDOWN_SLACK_MS).unref()
    app.close(code).then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'worker shutdown failed')
        exit(1)
      },
    )
  }
  // A tainted worker may hold an isolate thread that never ends, and process.exit waits for
  // isolate threads: it ends itself at once once its records are written.
  const exit = (code: number) => (tainted ? process.kill(process.pid, 'SIGKILL') : process.exit(code))
  link.onDrain(({ code, reason }) => leave(code, reason))
  process.on('SIGTERM', () => leave(1001, 'SIGTERM'))
  process.on('disconnect', () => leave(1001, 'the supervisor is gone'))
}
