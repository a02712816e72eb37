// An OTLP/HTTP collector stub on loopback, per the OTLP/HTTP spec for the JSON encoding:
// POST /v1/metrics and /v1/logs (and /v1/traces) with `Content-Type: application/json`,
// a success is 200 with an Export<Signal>ServiceResponse (`{}`: no partial rejection), a
// refused credential is 401. It records each export's headers and body, so a test sees
// what Claude Code's exporter sent with the headers its `otelHeadersHelper` printed.
import http from 'node:http'
import { gunzipSync } from 'node:zlib'
import { listenOnLoopback } from './listen.js'

export type OtlpSignal = 'metrics' | 'logs' | 'traces'

export interface OtlpExport {
  signal: OtlpSignal
  /** Header names lower-cased, as Node gives them. */
  headers: http.IncomingHttpHeaders
  /** The parsed JSON body (resourceMetrics / resourceLogs / resourceSpans), or undefined when it was not JSON. */
  body?: Record<string, unknown>
  status: number
  at: number
}

export interface OtlpCollector {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/<signal>). */
  url: string
  exports: OtlpExport[]
  /** Exports accepted (200), per signal. */
  accepted(signal: OtlpSignal): OtlpExport[]
  close(): Promise<void>
}

export interface OtlpCollectorOptions {
  /** Accepts an export's headers (true) or answers 401; default: accept everything. */
  verify?: (headers: http.IncomingHttpHeaders) => Promise<boolean> | boolean
}

const SIGNAL_PATHS: Record<string, OtlpSignal> = { '/v1/metrics': 'metrics', '/v1/logs': 'logs', '/v1/traces': 'traces' }
const MAX_BODY_BYTES = 8 * 1024 * 1024

export async function startOtlpCollector(options: OtlpCollectorOptions = {}): Promise<OtlpCollector> {
  const exports: OtlpExport[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_BODY_BYTES) chunks.push(chunk)
    })
    req.on('end', () => void answer())
    const send = (status: number, body: unknown): void => {
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) })
      res.end(text)
    }
    const answer = async (): Promise<void> => {
      const pathname = (req.url ?? '/').split('?')[0]!
      const signal = SIGNAL_PATHS[pathname]
      if (req.method !== 'POST' || signal === undefined) return send(404, { code: 5, message: `no route ${req.method} ${pathname}` })
      const record: OtlpExport = { signal, headers: req.headers, status: 0, at: Date.now() }
      exports.push(record)
      if (size > MAX_BODY_BYTES) {
        record.status = 413
        return send(413, { code: 8, message: 'body too large' })
      }
      let raw = Buffer.concat(chunks)
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw)
      // The JSON encoding only: a protobuf body is a client the test did not configure.
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
        record.status = 415
        return send(415, { code: 3, message: 'this stub collector takes OTLP/HTTP JSON only' })
      }
      try {
        record.body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
      } catch {
        record.status = 400
        return send(400, { code: 3, message: 'body is not JSON' })
      }
      if (options.verify !== undefined && !(await options.verify(req.headers))) {
        record.status = 401
        return send(401, { code: 16, message: 'unauthenticated' })
      }
      record.status = 200
      send(200, {})
    }
  })
  const port = await listenOnLoopback(server)
  return {
    url: `http://127.0.0.1:${port}`,
    exports,
    accepted: (signal) => exports.filter((e) => e.signal === signal && e.status === 200),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
