import WebSocket, { type ClientOptions } from 'ws'

/** A websocket client that collects frames and waits for the ones it asks for. */
export class TestSocket {
  readonly socket: WebSocket
  readonly frames: [string, Record<string, unknown>][] = []
  readonly #waiters: (() => void)[] = []
  readonly closed: Promise<{ code: number; reason: string }>

  /** `options`: more of ws's client options (`ca` for a wss:// server with a test certificate). */
  constructor(url: string, headers: Record<string, string> = {}, options: ClientOptions = {}) {
    this.socket = new WebSocket(url, { ...options, headers })
    this.socket.on('message', (data) => {
      this.frames.push(JSON.parse(String(data)))
      for (const wake of this.#waiters.splice(0)) wake()
    })
    this.closed = new Promise((resolve) => {
      this.socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }))
    })
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve())
      this.socket.once('error', reject)
    })
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Waits for the first frame matching `test` (from those received so far or later). */
  async next(test: (frame: [string, Record<string, unknown>]) => boolean, ms = 5000): Promise<[string, Record<string, unknown>]> {
    const end = performance.now() + ms
    for (;;) {
      const index = this.frames.findIndex(test)
      if (index !== -1) return this.frames.splice(index, 1)[0] as [string, Record<string, unknown>]
      if (performance.now() > end) throw new Error(`no such frame; got ${JSON.stringify(this.frames)}`)
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }

  answer(name: string, qid: unknown, ms?: number) {
    return this.next(([frameName, payload]) => frameName === name && payload.qid === qid, ms)
  }
}
