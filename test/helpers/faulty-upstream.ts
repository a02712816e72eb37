// A loopback HTTP proxy in front of a real test server (the Vault test server, the GCP token stub,
// the AWS container endpoint, the OIDC provider) whose behaviour can be switched per request at
// runtime, to inject the faults an upstream shows in real life. In "normal" it forwards verbatim, so
// the protocol stays the test server's own (faithful to the provider's documented API).
import http from 'node:http'
import type { Socket } from 'node:net'
import { listenOnLoopback } from './listen.js'

export type FaultMode =
  /** Forward to the real test server. */
  | 'normal'
  /** Nothing listens on the port: connection refused. */
  | 'down'
  /** Accepts the request and never answers within `slowMs` (past every client timeout). */
  | 'slow'
  /** 200 with a body that is not JSON. */
  | 'garbage'
  /** 200 with JSON of the wrong shape (an object with none of the expected fields). */
  | 'wrong-shape'
  /** 200 with a 50 MB JSON-looking body, generated as it is sent (never held in memory). */
  | 'huge'
  /** Sends the status line, headers and part of the body, then destroys the socket. */
  | 'cut'
  /** Alternates 503 and a forwarded (successful) answer, starting with 503. */
  | 'flapping'

export const HUGE_BODY_BYTES = 50 * 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 'a')

export interface FaultyUpstream {
  /** http://127.0.0.1:<port>: the same port in every mode (down closes and re-opens it). */
  url: string
  port: number
  mode: FaultMode
  set(mode: FaultMode): Promise<void>
  /** Requests seen per mode (a refused connection is not counted). */
  requests: { mode: FaultMode; method: string; path: string }[]
  /** Body bytes written in `huge` mode, summed over requests: less than HUGE_BODY_BYTES means the client stopped early. */
  hugeBytesSent: number
  close(): Promise<void>
}

export interface FaultyUpstreamOptions {
  /** Where `normal` forwards: the real test server's base URL (http, loopback). */
  target: string
  /** How long `slow` holds a request before dropping it; make it longer than the client's timeout. */
  slowMs?: number
  /**
   * Headers every injected answer carries, as the real server's would (the metadata server's
   * `Metadata-Flavor: Google`): so the fault reaches the body parsing, not a header check.
   */
  headers?: Record<string, string>
  /**
   * In forwarded JSON answers, replace the target's origin with the proxy's: an OpenID provider's
   * discovery document then names the proxy as issuer and token endpoint, so every request of
   * the client passes through the faults.
   */
  rewriteOrigin?: boolean
}

export async function startFaultyUpstream(options: FaultyUpstreamOptions): Promise<FaultyUpstream> {
  const target = new URL(options.target)
  const slowMs = options.slowMs ?? 30_000
  const extra = options.headers ?? {}
  const timers = new Set<NodeJS.Timeout>()
  const sockets = new Set<Socket>()
  let flap = 0
  let closed = false

  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const upstream = http.request({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      // Uncompressed answers when rewriting: the rewrite works on text.
      headers: { ...req.headers, host: target.host, ...(options.rewriteOrigin ? { 'accept-encoding': 'identity' } : {}) },
    }, (answer) => {
      if (!options.rewriteOrigin || !/json/.test(answer.headers['content-type'] ?? '')) {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
        return
      }
      const chunks: Buffer[] = []
      answer.on('data', (chunk: Buffer) => chunks.push(chunk))
      answer.on('end', () => {
        const body = Buffer.from(Buffer.concat(chunks).toString('utf8').replaceAll(target.origin, faulty.url))
        const headers = { ...answer.headers, 'content-length': String(body.length) }
        delete headers['transfer-encoding']
        delete headers['content-encoding']
        res.writeHead(answer.statusCode ?? 502, headers)
        res.end(body)
      })
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const mode = faulty.mode
    faulty.requests.push({ mode, method: req.method ?? '?', path: req.url ?? '/' })
    switch (mode) {
      case 'normal':
      case 'down': // a request already accepted before the port closed
        return forward(req, res)
      case 'slow': {
        req.resume()
        const timer = setTimeout(() => {
          timers.delete(timer)
          res.destroy()
        }, slowMs)
        timer.unref()
        timers.add(timer)
        return
      }
      case 'garbage':
        req.resume()
        res.writeHead(200, { ...extra, 'content-type': 'application/json' })
        return res.end('<html><body>502 Bad Gateway from a captive portal</body></html>')
      case 'wrong-shape':
        req.resume()
        res.writeHead(200, { ...extra, 'content-type': 'application/json' })
        return res.end(JSON.stringify({ unexpected: true, data: null, items: [1, 2, 3] }))
      case 'huge': {
        req.resume()
        // No content-length: a client must bound the read itself, not trust a header.
        res.writeHead(200, { ...extra, 'content-type': 'application/json' })
        res.write('{"data": "')
        let sent = 0
        const pump = () => {
          while (sent < HUGE_BODY_BYTES) {
            const chunk = CHUNK.subarray(0, Math.min(CHUNK.length, HUGE_BODY_BYTES - sent))
            sent += chunk.length
            faulty.hugeBytesSent += chunk.length
            if (!res.write(chunk)) return void res.once('drain', pump)
          }
          res.end('"}')
        }
        res.on('close', () => res.removeAllListeners('drain'))
        return pump()
      }
      case 'cut':
        req.resume()
        res.writeHead(200, { ...extra, 'content-type': 'application/json', 'content-length': '4096' })
        res.write('{"data": {"tok')
        // Let the partial answer reach the client, then drop the connection.
        return void setImmediate(() => res.socket?.destroy())
      case 'flapping':
        if (flap++ % 2 === 0) {
          req.resume()
          res.writeHead(503, { ...extra, 'content-type': 'application/json' })
          return res.end(JSON.stringify({ errors: ['upstream flapping: 503'] }))
        }
        return forward(req, res)
    }
  }

  const server = http.createServer(handler)
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const port = await listenOnLoopback(server)

  const faulty: FaultyUpstream = {
    url: `http://127.0.0.1:${port}`,
    port,
    mode: 'normal',
    requests: [],
    hugeBytesSent: 0,
    async set(mode) {
      const wasDown = faulty.mode === 'down'
      faulty.mode = mode
      flap = 0
      if (mode === 'down' && !wasDown) {
        // Close the listener (refused from now on) and every open connection (keep-alive clients
        // would otherwise still reach the handler).
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          for (const socket of sockets) socket.destroy()
        })
      } else if (mode !== 'down' && wasDown && !closed) {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject)
            resolve()
          })
        })
      }
    },
    async close() {
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const socket of sockets) socket.destroy()
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  return faulty
}
