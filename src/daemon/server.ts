import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { CredentialService } from '../service/service.js'
import { CcredError, toCcredError } from '../errors.js'
import { sanitizeLine } from '../text/sanitize.js'
import { CHALLENGE_HEADER, isChallenge } from '../rendezvous/daemon-proof.js'
import {
  parseCredentialRequest, parsePurgeRequest, PROTOCOL_VERSION, ROUTES,
  type DaemonInfo, type HealthResponse, type ProfilesResponse, type PurgeResponse, type ShutdownResponse, type StatusResponse,
} from '../protocol.js'

const MAX_BODY_BYTES = 64 * 1024
/** Our client sends a few hundred bytes of headers; anything near this is not a ccred client. */
const MAX_HEADER_BYTES = 16 * 1024
/**
 * A client that opens a connection and trickles its request (slowloris) would hold
 * a socket forever; our client sends each request at once. Only the request's
 * arrival is timed, never the answer (an interactive login may take minutes).
 */
const HEADERS_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 30_000

export interface ServerHooks {
  info: DaemonInfo
  /** The answer to a client's challenge, proving this daemon holds this start's key (rendezvous/daemon-proof.ts). */
  prove(challenge: string): Promise<string>
  onRequest(): void
  onShutdown(): void
}

const STATUS_BY_CODE: Partial<Record<CcredError['code'], number>> = {
  ERR_USAGE: 400,
  ERR_PROTOCOL: 400,
  ERR_PROFILE_UNKNOWN: 404,
  ERR_CONFIG: 422,
  ERR_LOGIN_REQUIRED: 401,
  ERR_SOURCE_DENIED: 403,
  // The client runs with another config than the daemon: a conflict to resolve, not a daemon fault.
  ERR_DAEMON: 409,
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

/** A request body over the limit: answered with 413 before the rest is read, never buffered. */
class BodyTooLarge extends CcredError {
  constructor() {
    super('ERR_PROTOCOL', 'request body larger than 64 KiB', { hint: 'this is not a ccred client' })
  }
}

function sendError(res: ServerResponse, error: unknown): void {
  const failure = toCcredError(error)
  if (failure instanceof BodyTooLarge) {
    // Closing at once, with the client still sending, resets the connection and the
    // client never reads the 413. So the rest is read and dropped (never buffered)
    // for at most a second after the answer, then the connection is cut.
    res.on('finish', () => {
      res.req.resume()
      setTimeout(() => res.req.socket.destroy(), 1_000).unref()
    })
    return send(res, 413, { error: failure.toJSON() })
  }
  send(res, STATUS_BY_CODE[failure.code] ?? 500, { error: failure.toJSON() })
}

/**
 * Reads at most MAX_BODY_BYTES. A larger body is refused as soon as it is declared
 * (content-length) or seen (chunked), without buffering the rest: not with a
 * for-await loop, whose early exit destroys the socket before the 413 is written.
 */
function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) return Promise.reject(new BodyTooLarge())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData).off('end', onEnd)
        req.pause()
        reject(new BodyTooLarge())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      try {
        resolve(parseBody(chunks, size))
      } catch (error) {
        reject(error)
      }
    }
    req.on('data', onData).on('end', onEnd).on('error', reject)
  })
}

function parseBody(chunks: Buffer[], size: number): Record<string, unknown> {
  if (size === 0) return {}
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>
  } catch { /* reported below */ }
  throw new CcredError('ERR_PROTOCOL', 'request body is not a JSON object', { hint: 'send JSON, e.g. {"profile": "demo"}' })
}

/**
 * HTTP/1.1 on the Unix socket, JSON bodies, versioned paths, so it can be
 * inspected with `curl --unix-socket`. Errors come back as {"error": {code, message, hint}}.
 */
export function createDaemonServer(service: CredentialService, hooks: ServerHooks): Server {
  const server = createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // How often the two timeouts above are checked (default 30 s, longer than both).
    connectionsCheckingInterval: 1_000,
  }, (req, res) => {
    hooks.onRequest()
    handle(req, res).catch((error) => sendError(res, error))
  })
  server.keepAliveTimeout = 5_000
  // Node answers a request it cannot parse (huge headers, bad syntax, a timeout) with a
  // bare status line; answer in our own JSON error shape so every client sees a coded error.
  const answered = new WeakSet<Duplex>()
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Data arriving after the error is reported again; destroying the socket then would
    // drop the answer before it is flushed (seen with 1 MiB of headers).
    if (answered.has(socket)) return
    answered.add(socket)
    const pending = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage
    if (error.code === 'ECONNRESET' || !socket.writable || pending?.headersSent === true) {
      socket.destroy()
      return
    }
    const [status, reason, message] = error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large', 'request headers larger than 16 KiB']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout', 'the request did not arrive in time']
        : [400, 'Bad Request', 'the request is not valid HTTP/1.1']
    const text = JSON.stringify({ error: new CcredError('ERR_PROTOCOL', message, { hint: 'this is not a ccred client' }).toJSON() })
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`)
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    const route = `${req.method} ${path}`
    switch (route) {
      case `GET ${ROUTES.health}`:
        return send(res, 200, { ok: true, protocol: PROTOCOL_VERSION, ...hooks.info } satisfies HealthResponse)
      case `GET ${ROUTES.hello}`: {
        const challenge = req.headers[CHALLENGE_HEADER]
        if (!isChallenge(challenge)) throw new CcredError('ERR_PROTOCOL', `${CHALLENGE_HEADER} must be 32 hex digits`, { hint: 'this is not a ccred client' })
        return send(res, 200, { proof: await hooks.prove(challenge) })
      }
      case `POST ${ROUTES.credential}`: {
        const request = parseCredentialRequest(await readJson(req))
        if (request.configPath !== undefined && request.configPath !== hooks.info.configPath) {
          throw new CcredError('ERR_DAEMON', `the running daemon reads ${hooks.info.configPath}, but this command uses ${sanitizeLine(request.configPath, 300)}`, {
            hint: 'run: ccred daemon stop   (or give each config its own CCRED_RUNTIME_DIR)',
          })
        }
        return send(res, 200, await service.get(request))
      }
      case `GET ${ROUTES.status}`: {
        const status: StatusResponse = { daemon: { running: true, ...hooks.info, uptimeMs: Date.now() - Date.parse(hooks.info.startedAt) }, ...(await service.status()) }
        return send(res, 200, status)
      }
      case `GET ${ROUTES.profiles}`:
        return send(res, 200, { profiles: await service.listProfiles() } satisfies ProfilesResponse)
      case `POST ${ROUTES.purge}`:
        return send(res, 200, { purged: service.purge(parsePurgeRequest(await readJson(req)).profile) } satisfies PurgeResponse)
      case `POST ${ROUTES.shutdown}`:
        send(res, 200, { stopping: true } satisfies ShutdownResponse)
        res.on('finish', () => hooks.onShutdown())
        return
      default:
        throw new CcredError('ERR_PROTOCOL', `no such endpoint: ${sanitizeLine(route, 120)}`, { hint: 'the daemon may be a different ccred version; run: ccred daemon stop' })
    }
  }

  return server
}
