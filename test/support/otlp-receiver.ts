import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'

type Value = string | number | boolean

/** A span as the receiver got it, from either encoding. */
export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  /** Undefined for a trace's root span. */
  readonly parentSpanId: string | undefined
  readonly traceState: string
  readonly name: string
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number
  readonly attributes: Readonly<Record<string, Value>>
  /** OTLP's StatusCode: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string }
  readonly events: readonly { readonly name: string; readonly attributes: Readonly<Record<string, Value>> }[]
  /** The spans it links (OpenTelemetry links: followed from, not a child of). */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[]
  /** The attributes of the resource (the process) that sent it. */
  readonly resource: Readonly<Record<string, Value>>
}

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT (spans come to `<url>/v1/traces`). */
  readonly url: string
  readonly spans: ReceivedSpan[]
  /** Every export request, by its path and content type. */
  readonly requests: { readonly path: string; readonly contentType: string }[]
  /** The spans once `test` holds for them (checked as exports arrive), or a failure after `ms`. */
  until(test: (spans: readonly ReceivedSpan[]) => boolean, ms?: number): Promise<readonly ReceivedSpan[]>
}

/**
 * An OTLP/HTTP trace receiver on loopback, as a collector is to the server: it takes
 * `POST /v1/traces` in either encoding — `application/json` (OTLP's JSON mapping) or
 * `application/x-protobuf` (decoded here by the field numbers of opentelemetry-proto's
 * `trace.proto`, `resource.proto` and `common.proto`: the SDK packages ship an encoder only) —
 * and answers as a collector does.
 */
export async function startOtlpReceiver(t: TestContext, options: { port?: number } = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = []
  const requests: { path: string; contentType: string }[] = []
  const waiters = new Set<() => void>()
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const contentType = request.headers['content-type'] ?? ''
      requests.push({ path: request.url ?? '', contentType })
      const body = Buffer.concat(chunks)
      try {
        spans.push(...(contentType.startsWith('application/json') ? fromJson(body) : fromProtobuf(body)))
      } catch (error) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error))
        return
      }
      if (contentType.startsWith('application/json')) response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      else response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
      for (const wake of waiters) wake()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', resolve)
  })
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  server.unref()
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    requests,
    async until(test, ms = 15_000) {
      const deadline = performance.now() + ms
      while (!test(spans)) {
        const left = deadline - performance.now()
        if (left <= 0) {
          throw new Error(`the spans did not arrive within ${ms} ms; got:\n${spans.map(describe).join('\n')}`)
        }
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake)
            clearTimeout(timer)
            resolve()
          }
          const timer = setTimeout(wake, left)
          waiters.add(wake)
        })
      }
      return spans
    },
  }
}

/** One line per span, for failure messages. */
function describe(span: ReceivedSpan): string {
  return `${span.name} [${span.traceId}/${span.spanId} ← ${span.parentSpanId ?? 'root'}] ${JSON.stringify(span.attributes)}`
}

// OTLP JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): ids as hex, enums
// as numbers, 64-bit integers as numbers or strings.

interface JsonKeyValue {
  key: string
  value: { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number }
}

function jsonAttributes(list: JsonKeyValue[] | undefined): Record<string, Value> {
  const attributes: Record<string, Value> = {}
  for (const { key, value } of list ?? []) {
    const v = value.stringValue ?? value.boolValue ?? value.doubleValue ?? value.intValue
    if (v !== undefined) attributes[key] = typeof v === 'string' && value.intValue !== undefined ? Number(v) : v
  }
  return attributes
}

function fromJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8')) as {
    resourceSpans: {
      resource?: { attributes?: JsonKeyValue[] }
      scopeSpans: {
        spans: {
          traceId: string
          spanId: string
          parentSpanId?: string
          traceState?: string
          name: string
          kind: number
          attributes?: JsonKeyValue[]
          status?: { code?: number; message?: string }
          events?: { name: string; attributes?: JsonKeyValue[] }[]
          links?: { traceId: string; spanId: string }[]
        }[]
      }[]
    }[]
  }
  return request.resourceSpans.flatMap(({ resource, scopeSpans }) =>
    scopeSpans.flatMap(({ spans }) =>
      spans.map((span) => ({
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId || undefined,
        traceState: span.traceState ?? '',
        name: span.name,
        kind: span.kind,
        attributes: jsonAttributes(span.attributes),
        status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
        events: (span.events ?? []).map((event) => ({ name: event.name, attributes: jsonAttributes(event.attributes) })),
        links: (span.links ?? []).map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
        resource: jsonAttributes(resource?.attributes),
      })),
    ),
  )
}

// Protocol buffers' wire format: each field a varint key (number << 3 | wire type), then a
// varint (0), 8 bytes (1), a length and bytes (2), or 4 bytes (5).

type Fields = Map<number, (bigint | Buffer)[]>

function fields(bytes: Buffer): Fields {
  const found: Fields = new Map()
  let at = 0
  const varint = (): bigint => {
    let value = 0n
    let shift = 0n
    for (;;) {
      const byte = bytes[at++]
      if (byte === undefined) throw new Error('a varint runs past the end')
      value |= BigInt(byte & 0x7f) << shift
      if (byte < 0x80) return value
      shift += 7n
    }
  }
  while (at < bytes.length) {
    const key = varint()
    const number = Number(key >> 3n)
    const wire = Number(key & 7n)
    let value: bigint | Buffer
    if (wire === 0) value = varint()
    else if (wire === 1) {
      value = bytes.readBigUInt64LE(at)
      at += 8
    } else if (wire === 2) {
      const length = Number(varint())
      value = bytes.subarray(at, at + length)
      at += length
    } else if (wire === 5) {
      value = BigInt(bytes.readUInt32LE(at))
      at += 4
    } else throw new Error(`wire type ${wire} is not expected here`)
    const list = found.get(number) ?? []
    list.push(value)
    found.set(number, list)
  }
  return found
}

const messages = (f: Fields, n: number): Fields[] => (f.get(n) ?? []).map((value) => fields(value as Buffer))
const bytesOf = (f: Fields, n: number): Buffer | undefined => f.get(n)?.[0] as Buffer | undefined
const text = (f: Fields, n: number): string => bytesOf(f, n)?.toString('utf8') ?? ''
const numberOf = (f: Fields, n: number): number => Number((f.get(n)?.[0] as bigint | undefined) ?? 0n)

/** KeyValue {string key = 1; AnyValue value = 2}; AnyValue {string 1; bool 2; int64 3; double 4; …}. */
function protoAttributes(list: Fields[]): Record<string, Value> {
  const attributes: Record<string, Value> = {}
  for (const pair of list) {
    const value = messages(pair, 2)[0]
    if (!value) continue
    const key = text(pair, 1)
    if (value.has(1)) attributes[key] = text(value, 1)
    else if (value.has(2)) attributes[key] = numberOf(value, 2) === 1
    else if (value.has(3)) attributes[key] = numberOf(value, 3)
    else if (value.has(4)) {
      const bits = Buffer.alloc(8)
      bits.writeBigUInt64LE(value.get(4)?.[0] as bigint)
      attributes[key] = bits.readDoubleLE(0)
    }
  }
  return attributes
}

/**
 * ExportTraceServiceRequest {ResourceSpans resource_spans = 1}; ResourceSpans {Resource resource
 * = 1; ScopeSpans scope_spans = 2}; Resource {KeyValue attributes = 1}; ScopeSpans {Span spans =
 * 2}; Span {bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id
 * = 4; string name = 5; SpanKind kind = 6; KeyValue attributes = 9; Event events = 11; Link
 * links = 13; Status status = 15}; Event {string name = 2; KeyValue attributes = 3}; Link {bytes
 * trace_id = 1; bytes span_id = 2}; Status {string message = 2; StatusCode code = 3}.
 */
function fromProtobuf(body: Buffer): ReceivedSpan[] {
  return messages(fields(body), 1).flatMap((resourceSpans) => {
    const resource = protoAttributes(messages(messages(resourceSpans, 1)[0] ?? new Map(), 1))
    return messages(resourceSpans, 2).flatMap((scopeSpans) =>
      messages(scopeSpans, 2).map((span) => {
        const status = messages(span, 15)[0] ?? new Map()
        const parent = bytesOf(span, 4)
        return {
          traceId: bytesOf(span, 1)?.toString('hex') ?? '',
          spanId: bytesOf(span, 2)?.toString('hex') ?? '',
          parentSpanId: parent && parent.length > 0 ? parent.toString('hex') : undefined,
          traceState: text(span, 3),
          name: text(span, 5),
          kind: numberOf(span, 6),
          attributes: protoAttributes(messages(span, 9)),
          status: { code: numberOf(status, 3), message: text(status, 2) },
          events: messages(span, 11).map((event) => ({ name: text(event, 2), attributes: protoAttributes(messages(event, 3)) })),
          links: messages(span, 13).map((link) => ({
            traceId: bytesOf(link, 1)?.toString('hex') ?? '',
            spanId: bytesOf(link, 2)?.toString('hex') ?? '',
          })),
          resource,
        }
      }),
    )
  })
}
