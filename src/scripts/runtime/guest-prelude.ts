import type { HostModule } from './host-api.ts'

export interface PreludeLimits {
  /** Largest JSON text of an execution's variables, in characters. */
  readonly maxOutputChars: number
  /** Longest log line, in characters; longer lines are cut. */
  readonly maxLogLineChars: number
  /** Most log lines kept per execution; later ones are counted. */
  readonly maxLogLines: number
  /** Most log characters kept per execution. */
  readonly maxLogChars: number
}

/** Log levels by rank, as the guest and the host number them. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const

/**
 * The JavaScript that runs first in every script context. It keeps the host references in a
 * closure (the script never sees them), captures the built-ins it needs before any script can
 * replace them, and returns `setup(main)`, which binds the compiled script and answers with the
 * one function the host calls for each execution (`start`, `take`, `drop`).
 *
 * Inputs cross as one JSON string and outputs come back as one (Uint8Array values encoded as
 * `{"$bytes": base64}`): measured 2-3x faster than structured copies of the same objects, and
 * the output's size is checked inside the isolate before anything reaches the host.
 *
 * Log lines are filtered by level and bounded here, so a flood never leaves the isolate. They
 * travel with the outcome, and in one batch before each asynchronous host call (so a run that
 * later times out still shows what it did): a call per line would arrive after a synchronous
 * run had already ended.
 */
export function guestPrelude(modules: readonly HostModule[], limits: PreludeLimits, options: { wasm: boolean }): string {
  const factories = modules.map((module) => `[${JSON.stringify(module.name)}, ${module.guest}]`).join(',\n')
  // WebAssembly memory lives outside the isolate's heap limit (a 600 MB Memory passed a 128 MB
  // limit in a review): unless enabled, the global goes before any script can take a reference.
  return `'use strict'
${options.wasm ? '' : 'delete globalThis.WebAssembly'}
const dispatch = $0, dispatchSync = $1, emitLog = $2, finished = $3
const { parse, stringify } = JSON
const { apply } = Reflect
const { isArray } = Array
const { keys, hasOwn, defineProperty } = Object
const dateNow = Date.now
const Uint8ArrayCtor = Uint8Array
const stringSlice = String.prototype.slice
const StringCtor = String
const MAX_OUTPUT = ${limits.maxOutputChars}
const MAX_LOG_LINE = ${limits.maxLogLineChars}
const MAX_LOG_LINES = ${limits.maxLogLines}
const MAX_LOG_CHARS = ${limits.maxLogChars}
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function base64(bytes) {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2]
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63]
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8)
    out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=') + '='
  }
  return out
}

function encodeBytes(key, value) {
  return value instanceof Uint8ArrayCtor ? { $bytes: base64(value) } : value
}

// A part of the input by its dotted path ('request.body'), or undefined.
function part(input, path) {
  let value = input
  for (const name of StringCtor(path).split('.')) {
    if (value === null || typeof value !== 'object' || !hasOwn(value, name)) return undefined
    value = value[name]
  }
  return value
}

function text(value) {
  if (typeof value === 'string') return value
  if (value instanceof Error) return value.stack || StringCtor(value)
  try {
    const json = stringify(value, encodeBytes)
    return json === undefined ? StringCtor(value) : json
  } catch {
    return StringCtor(value)
  }
}

function line(args) {
  let out = ''
  for (let i = 0; i < args.length; i++) {
    out += (i === 0 ? '' : ' ') + text(args[i])
    if (out.length > MAX_LOG_LINE) break
  }
  return out.length > MAX_LOG_LINE ? apply(stringSlice, out, [0, MAX_LOG_LINE]) + '…' : out
}

const tools = { parse, stringify }
const factories = [
${factories}
]

// The log of one execution: lines not yet sent to the host (level rank, text, ms since the
// start, ...), and counts. Each line is timed here, when it is written: lines go to the host in
// batches, so the host's clock would give a batch one time.
class ExecutionLog {
  constructor(minRank, began) {
    this.minRank = minRank
    this.began = began
    this.pending = []
    this.lines = 0
    this.chars = 0
    this.dropped = 0
  }
  write(rank, args) {
    if (rank < this.minRank) return
    const text = line(args)
    if (this.lines >= MAX_LOG_LINES || this.chars + text.length > MAX_LOG_CHARS) {
      this.dropped++
      return
    }
    this.lines++
    this.chars += text.length
    this.pending.push(rank, text, dateNow() - this.began)
  }
  // The lines not yet sent, with a closing line when some were dropped if \`last\`.
  take(last) {
    const lines = this.pending
    this.pending = []
    if (last && this.dropped > 0) {
      lines.push(2, this.dropped + ' more log line(s) were dropped: the log limit is ' + MAX_LOG_LINES +
        ' lines or ' + MAX_LOG_CHARS + ' characters', dateNow() - this.began)
    }
    return lines
  }
}

// The script API values of one execution: \`log\` and every module the script can reach (\`used\`,
// aligned with them); undefined for the others, which the script never names.
function api(execId, log, used) {
  const call = (name, ...args) => {
    if (log.pending.length > 0) emitLog.applyIgnored(undefined, [execId, log.take(false)], { arguments: { copy: true } })
    return dispatch.apply(undefined, [execId, name, args], { arguments: { copy: true }, result: { promise: true, copy: true } })
  }
  const callSync = (name, ...args) =>
    dispatchSync.applySync(undefined, [execId, name, args], { arguments: { copy: true }, result: { copy: true } })
  const write = (rank) => (...args) => log.write(rank, args)
  const values = [used[0] ? { debug: write(0), info: write(1), warn: write(2), error: write(3) } : undefined]
  for (let i = 0; i < factories.length; i++) {
    if (!used[i + 1]) {
      values.push(undefined)
      continue
    }
    const [name, factory] = factories[i]
    values.push(factory((fn, ...args) => call(name + '.' + fn, ...args), (fn, ...args) => callSync(name + '.' + fn, ...args), tools))
  }
  return values
}

// Compiles the prelude's own functions before a script needs them (spare isolates run this).
globalThis.__warm = () => {
  api(0, new ExecutionLog(0, dateNow()), factories.map(() => true).concat(true)).shift().info('warm', { a: 1 })
  stringify({ a: [1, 'b'] }, encodeBytes)
  delete globalThis.__warm
}

return function setup(main, used) {
  // Outcomes by execution id: [1, outputJson, logs, ms] or [2, message, logs, ms, stack], where
  // ms is the time since the start as the script sees it. The host takes an outcome right after
  // \`start\` when the script finished without waiting on a host call (most do); otherwise it
  // asks to be told (\`finished\`) when the outcome is there.
  const outcomes = new Map()
  const logs = new Map()
  const watched = new Set()

  function settle(execId, outcome) {
    // A run without its log entry was dropped by the host: nobody takes its outcome.
    if (!logs.delete(execId)) return
    outcomes.set(execId, outcome)
    if (watched.delete(execId)) finished.applyIgnored(undefined, [execId])
  }

  function failure(error, log, began) {
    let message, stack
    try {
      message = error instanceof Error ? StringCtor(error.message) : typeof error === 'string' ? error : text(error)
      stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : undefined
    } catch {
      message = 'the script threw a value that cannot be shown'
    }
    return [2, message, log.take(true), dateNow() - began, stack]
  }

  function output(vars, returned, log, began) {
    if (returned !== undefined) vars.result = returned
    let out
    try {
      out = stringify(vars, encodeBytes)
    } catch (error) {
      return failure(error, log, began)
    }
    // A toJSON the script put on Object.prototype decides what vars becomes. Only typeof and a
    // string's own index are read here: nothing the script could have replaced.
    if (typeof out !== 'string' || out[0] !== '{') {
      const became = out === undefined ? 'nothing' : out[0] === '"' ? 'a string' : out[0] === '[' ? 'an array' : 'the value ' + out
      return [2, 'the variables must serialise to a JSON object, not ' + became + ' (does the script replace toJSON?)',
        log.take(true), dateNow() - began]
    }
    return out.length > MAX_OUTPUT
      ? [2, 'the script output is ' + out.length + ' characters of JSON; the limit is ' + MAX_OUTPUT, log.take(true), dateNow() - began]
      : [1, out, log.take(true), dateNow() - began]
  }

  const ops = {
    // Answers the outcome at once when the script finished synchronously, else undefined.
    start(execId, inputJson, minRank, bodyJson) {
      const began = dateNow()
      const log = new ExecutionLog(minRank, began)
      const input = parse(inputJson)
      const request = input.request !== null && typeof input.request === 'object' ? input.request : undefined
      if (bodyJson !== undefined) {
        // A webhook's JSON body, parsed here only (the host never parses it).
        let body
        try {
          body = parse(bodyJson)
        } catch (error) {
          return [3, error instanceof Error ? StringCtor(error.message) : 'the body is not valid JSON', [], 0]
        }
        if (request !== undefined) request.body = body
      }
      if (input.rawBody === true && request !== undefined) {
        let raw
        defineProperty(request, 'rawBody', {
          enumerable: true,
          configurable: true,
          get: () => (raw ??= dispatchSync.applySync(undefined, [execId, 'request.rawBody', []], { arguments: { copy: true }, result: { copy: true } })),
        })
      }
      const startparams = isArray(input.startparams) ? input.startparams : []
      const aliases = input.startparamAliases
      if (aliases !== null && typeof aliases === 'object') {
        for (const index of keys(aliases)) startparams[index] = part(input, aliases[index])
      }
      const startparam = (n) => (typeof n === 'number' && n >= 1 && n <= startparams.length ? startparams[n - 1] : undefined)
      const vars = {}
      // Registered for the whole run: a run cut by its timeout still has its lines taken (drop).
      logs.set(execId, log)
      let returned
      try {
        returned = main(startparam, vars, input.request === undefined ? null : input.request,
          input.channel === undefined ? null : input.channel, ...api(execId, log, used))
      } catch (error) {
        logs.delete(execId)
        return failure(error, log, began)
      }
      if (returned === null || (typeof returned !== 'object' && typeof returned !== 'function') || typeof returned.then !== 'function') {
        logs.delete(execId)
        return output(vars, returned, log, began)
      }
      returned.then(
        (value) => settle(execId, output(vars, value, log, began)),
        (error) => settle(execId, failure(error, log, began)),
      )
      return undefined
    },
    take(execId, watch) {
      const outcome = outcomes.get(execId)
      if (outcome !== undefined) {
        outcomes.delete(execId)
        return outcome
      }
      if (watch) watched.add(execId)
      return undefined
    },
    // Forgets a run the host gave up on (timeout, abort), answering the log lines it left.
    drop(execId) {
      watched.delete(execId)
      const log = logs.get(execId)
      logs.delete(execId)
      outcomes.delete(execId)
      return log === undefined ? [] : log.take(true)
    },
  }
  // One entry point, so the host holds one reference: op 0 start, 1 take, 2 drop.
  return (op, execId, arg, extra, body) =>
    op === 0 ? ops.start(execId, arg, extra, body) : op === 1 ? ops.take(execId, arg) : ops.drop(execId)
}
`
}

/** The parameters of a compiled script, in the order `execute` passes them: the module names last. */
export function scriptParameters(moduleNames: readonly string[]): string[] {
  return ['startparam', 'vars', 'request', 'channel', 'log', ...moduleNames]
}
