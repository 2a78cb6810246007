import { type Static, Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { BusToRelay, RelayToBus } from '../bus/ipc-bus.ts'

/**
 * Supervisor → worker, over the worker's IPC channel. Checked at the decode on both sides: after
 * a rolling restart (SIGHUP) a worker may run newer code than its supervisor, and a message it
 * does not know must fail loudly, not read as undefined.
 */
export const ToWorker = Type.Union([
  RelayToBus,
  /** Stop taking work, finish what runs, close websockets with `code`, leave. */
  Type.Object({ t: Type.Literal('drain'), code: Type.Union([Type.Literal(1001), Type.Literal(1012)]), reason: Type.String() }),
])
export type ToWorker = Static<typeof ToWorker>

/** Worker → supervisor. */
export const FromWorker = Type.Union([
  BusToRelay,
  /** Listening: the node's URL, the worker's node id, and what the first start printed. */
  Type.Object({
    t: Type.Literal('ready'),
    url: Type.String(),
    node: Type.String(),
    firstStart: Type.Boolean(),
    rootKey: Type.Union([Type.String(), Type.Null()]),
  }),
  /** It holds an isolate V8 may not have stopped (SPEC §13): replace it. */
  Type.Object({ t: Type.Literal('tainted'), reason: Type.String() }),
])
export type FromWorker = Static<typeof FromWorker>

export const toWorker = TypeCompiler.Compile(ToWorker)
export const fromWorker = TypeCompiler.Compile(FromWorker)
