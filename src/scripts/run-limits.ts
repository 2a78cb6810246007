/**
 * The limits of a script run that the product fixes (SPEC §4, §5): one place for the numbers
 * that the run endpoint, the websocket capabilities, the script API modules and the runtime
 * share, so they cannot drift apart. What an operator tunes (memory, CPU, isolates, workers) is
 * configuration instead (config.ts).
 */

/**
 * The longest chain of executions started by executions: `channels.send`, a run or replay
 * through `api.request`, a push's `send_svcscriptcode_ws`. An execution started by a trigger
 * has depth 0; a start at a depth beyond this is refused, so scripts that call each other (or
 * themselves) in a loop end instead of running forever.
 */
export const MAX_CHAIN_DEPTH = 8

/**
 * Every wait a caller or a script may choose, ms: the run endpoint's and `start_svcscript`'s
 * `timeout`, a channel's `opts.recv_timeout` (0 means the default; it is given in seconds),
 * `ws.send`'s sync reply and `http.request`. The default applies when none is given.
 */
export const DEFAULT_TIMEOUT_MS = 10_000
export const MAX_TIMEOUT_MS = 60_000

/** `startparam(1)` … `startparam(20)`. */
export const MAX_STARTPARAMS = 20

/** The script's variables as JSON, characters: larger output fails the execution. */
export const MAX_OUTPUT_CHARS = 1 << 20

/** Log lines an execution keeps, the longest line (longer ones are cut), and all lines' characters together. */
export const MAX_LOG_LINES = 500
export const MAX_LOG_LINE_CHARS = 4096
export const MAX_LOG_CHARS = 64 * 1024

/** `http.request`: the largest body sent and received, bytes. */
export const HTTP_MAX_REQUEST_BYTES = 5 << 20
export const HTTP_MAX_RESPONSE_BYTES = 5 << 20
