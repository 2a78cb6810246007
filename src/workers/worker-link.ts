import type { BusToRelay, RelayToBus } from '../bus/ipc-bus.ts'
import { type FromWorker, type ToWorker, toWorker } from './link-protocol.ts'

/**
 * A worker's side of its IPC channel to the supervisor: the embedded bus's traffic, and the
 * supervisor's order to drain. Everything that arrives is checked against the protocol first;
 * what does not fit is reported, never acted on.
 */
export class WorkerLink {
  readonly index: number
  /** The run of the node this worker belongs to (queue leases, store-queue.ts). */
  readonly epoch: string
  #bus: ((message: RelayToBus) => void) | undefined
  #drain: ((message: Extract<ToWorker, { t: 'drain' }>) => void) | undefined

  constructor(index: number, epoch: string, onMalformed: (message: unknown) => void) {
    this.index = index
    this.epoch = epoch
    process.on('message', (message: unknown) => {
      if (!toWorker.Check(message)) return onMalformed(message)
      if (message.t === 'bus.msg' || message.t === 'bus.flushed') this.#bus?.(message)
      else this.#drain?.(message)
    })
  }

  send(message: FromWorker | BusToRelay): void {
    if (process.connected) process.send?.(message)
  }

  onBus(listener: (message: RelayToBus) => void): void {
    this.#bus = listener
  }

  onDrain(listener: (message: Extract<ToWorker, { t: 'drain' }>) => void): void {
    this.#drain = listener
  }
}
