import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { PassThrough, pipeline, type Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { CcredError, toCcredError } from '../errors.js'

/**
 * A request body up to this size is kept in memory so that a request refused with
 * 401/403 can be sent once more with a fresh credential; a larger one streams
 * through and a refusal passes to the client.
 */
export const RETRYABLE_BODY_BYTES = 8 * 1024 * 1024
/** No LLM request is larger; a larger one is refused with 413 before it reaches the upstream. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024
const MAX_HEADER_BYTES = 64 * 1024
/** A streamed answer may pause for minutes while a model thinks; a dead upstream is still cut. */
const UPSTREAM_IDLE_MS = 10 * 60_000

/**
 * Where clients put their API key: the route's local key is looked for in each,
 * and each is removed before the request goes upstream (the profile's headers replace them).
 */
const CLIENT_KEY_HEADERS = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key']
/** Hop-by-hop (RFC 9110 7.6.1) and headers a proxy must not pass on; `host` is the upstream's own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect'])

/** The credential headers for one upstream request; `refused` holds the set the upstream just refused. */
export type CredentialHeaders = (refused?: Record<string, string>) => Promise<Record<string, string>>

/** One line per request for the daemon's log: never a header, a query or a body. */
export interface RelayExchange {
  route: string
  method: string
  path: string
  status: number
  bytes: number
  durationMs: number
  retried: boolean
}

export interface RouteOptions {
  name: string
  upstream: URL
  /** The route's local key (hex); clients present it in their usual key header. */
  key: string
  dispatcher: Dispatcher
  credentialHeaders: CredentialHeaders
  onExchange(exchange: RelayExchange): void
  now(): number
}

/** Answers the relay gives itself (never from upstream): a JSON error the clients print. */
function refuse(res: ServerResponse, status: number, error: CcredError): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const text = JSON.stringify({ error: { ...error.toJSON(), type: 'ccred_relay' } })
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', connection: 'close' })
  res.end(text)
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

/** The local key from whichever key header the client sends (`Bearer` or bare), compared in constant time. */
export function presentsKey(headers: IncomingHttpHeaders, keyDigest: Buffer): boolean {
  let found = false
  for (const name of CLIENT_KEY_HEADERS) {
    const raw = headers[name]
    if (typeof raw !== 'string') continue
    const value = raw.replace(/^(Bearer|Basic)\s+/i, '').trim()
    // Every header is compared (no early exit), digests of equal length, so timing says nothing.
    if (timingSafeEqual(digest(value), keyDigest)) found = true
  }
  return found
}

/** A `..` or `.` segment (plain or percent-encoded) could leave the route's path prefix after the upstream normalises it. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i

/**
 * One loopback HTTP endpoint forwarding to one fixed upstream with the profile's
 * current credential. Not a proxy: the target is always `upstream`; the request
 * chooses only the path under its prefix.
 */
export class RelayRoute {
  readonly name: string
  readonly upstream: URL
  requests = 0
  readonly #options: RouteOptions
  readonly #keyDigest: Buffer
  readonly #server: Server
  readonly #prefix: string
  #port = 0

  constructor(options: RouteOptions) {
    this.name = options.name
    this.upstream = options.upstream
    this.#options = options
    this.#keyDigest = digest(options.key)
    this.#prefix = options.upstream.pathname.replace(/\/+$/, '')
    this.#server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: 30_000, requestTimeout: 0, keepAliveTimeout: 65_000 }, (req, res) => {
      void this.#handle(req, res).catch((error) => refuse(res, 502, toCcredError(error)))
    })
    // CONNECT and Upgrade never tunnel anywhere: this is no proxy.
    const notAProxy = (_req: IncomingMessage, socket: Socket) => {
      socket.end('HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
    }
    this.#server.on('connect', notAProxy)
    this.#server.on('upgrade', notAProxy)
    this.#server.on('clientError', (_error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      else socket.destroy()
    })
  }

  /** Listens on 127.0.0.1 (never a wildcard address), on a port the system picks. */
  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject)
        resolve()
      })
    })
    this.#port = (this.#server.address() as AddressInfo).port
  }

  /** The base URL clients use: loopback, this route's port, the upstream's path prefix. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.#port}${this.#prefix}`
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve())
      this.#server.closeAllConnections()
    })
  }

  /** A Host that is not this listener's is a browser page reaching loopback through DNS rebinding. */
  #ownHost(host: string | undefined): boolean {
    if (host === undefined) return false
    const lower = host.toLowerCase()
    return lower === `127.0.0.1:${this.#port}` || lower === `localhost:${this.#port}`
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedMs = this.#options.now()
    const url = req.url ?? ''
    const path = url.split('?')[0] ?? ''
    if (!url.startsWith('/')) return refuse(res, 400, new CcredError('ERR_PROTOCOL', 'the relay takes origin-form request targets only', { hint: 'it forwards to its one upstream; it is not a proxy' }))
    if (!this.#ownHost(req.headers.host)) return refuse(res, 421, new CcredError('ERR_PROTOCOL', 'the Host header is not this relay\'s address', { hint: `use the route's base URL as it is (127.0.0.1 or localhost and its port)` }))
    if (!presentsKey(req.headers, this.#keyDigest)) return refuse(res, 401, new CcredError('ERR_LOGIN_REQUIRED', 'the relay\'s local key is missing or wrong', { hint: 'send the key ccred gave for this route as the client\'s API key (ccred exec --relay sets it)' }))
    if (DOT_SEGMENT.test(path) || (path !== this.#prefix && !path.startsWith(`${this.#prefix}/`) && this.#prefix !== '')) {
      return refuse(res, 404, new CcredError('ERR_PROTOCOL', 'the path is outside the route\'s upstream path', { hint: 'use the route\'s base URL as the client\'s base URL' }))
    }
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length'])
    if (declared !== undefined && !(declared <= MAX_BODY_BYTES)) return refuse(res, 413, new CcredError('ERR_PROTOCOL', `request body larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`, { hint: 'the relay forwards LLM requests, not uploads' }))

    this.requests += 1
    const abort = new AbortController()
    // The client went away before the answer ended: the upstream request is aborted too.
    res.on('close', () => { if (!res.writableFinished) abort.abort() })
    const body = await readBody(req, declared)
    const forwarded = forwardedHeaders(req.headers)
    let credential = await this.#options.credentialHeaders()
    let retried = false
    let answer = await this.#send(req.method ?? 'GET', url, forwarded, credential, body, abort.signal)
    if ((answer.statusCode === 401 || answer.statusCode === 403) && Buffer.isBuffer(body)) {
      // Refused before any byte of the answer reached the client: one fresh credential, one retry.
      await answer.body.dump().catch(() => undefined)
      credential = await this.#options.credentialHeaders(credential)
      retried = true
      answer = await this.#send(req.method ?? 'GET', url, forwarded, credential, body, abort.signal)
    }
    res.writeHead(answer.statusCode, responseHeaders(answer.headers))
    let bytes = 0
    answer.body.on('data', (chunk: Buffer) => { bytes += chunk.length })
    // pipeline: backpressure both ways; an upstream failure cuts the client, a client close stops the upstream.
    pipeline(answer.body, res, () => {
      this.#options.onExchange({ route: this.name, method: req.method ?? '?', path, status: answer.statusCode, bytes, durationMs: this.#options.now() - startedMs, retried })
    })
  }

  async #send(method: string, url: string, forwarded: Record<string, string | string[]>, credential: Record<string, string>, body: Buffer | Readable | undefined, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string | string[]> = {}
    const replaced = new Set(Object.keys(credential).map((name) => name.toLowerCase()))
    for (const [name, value] of Object.entries(forwarded)) if (!replaced.has(name)) headers[name] = value
    Object.assign(headers, credential)
    try {
      return await this.#options.dispatcher.request({
        origin: this.upstream.origin,
        path: url,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body ?? null,
        signal,
        headersTimeout: UPSTREAM_IDLE_MS,
        bodyTimeout: UPSTREAM_IDLE_MS,
      })
    } catch (error) {
      if (signal.aborted) throw new CcredError('ERR_PROTOCOL', 'the client closed the request', { cause: error })
      // The cause's message names host and port at most (undici errors carry no headers).
      throw new CcredError('ERR_SOURCE_UNAVAILABLE', `the relay could not reach ${this.upstream.origin}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        hint: 'check the route\'s upstream, HTTPS_PROXY and NODE_EXTRA_CA_CERTS in the daemon\'s environment', cause: error,
      })
    }
  }
}

/** The client's headers minus hop-by-hop ones (and those its Connection header names) and its own key headers. */
function forwardedHeaders(incoming: IncomingHttpHeaders): Record<string, string | string[]> {
  return withoutHopByHop(incoming, CLIENT_KEY_HEADERS)
}

function responseHeaders(incoming: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  return withoutHopByHop(incoming, [])
}

/** Headers minus the hop-by-hop ones (RFC 9110 §7.6.1: and those the Connection header names) and `alsoDropped`. */
function withoutHopByHop(incoming: Record<string, string | string[] | undefined>, alsoDropped: Iterable<string>): Record<string, string | string[]> {
  const dropped = new Set([...HOP_BY_HOP, ...alsoDropped])
  const connection = incoming.connection
  if (typeof connection === 'string') for (const name of connection.split(',')) dropped.add(name.trim().toLowerCase())
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || dropped.has(name)) continue
    headers[name] = value
  }
  return headers
}

/**
 * The request body: in memory up to RETRYABLE_BODY_BYTES (so it can be sent twice),
 * else a stream of what was read and the rest, cut at MAX_BODY_BYTES.
 */
function readBody(req: IncomingMessage, declared: number | undefined): Promise<Buffer | Readable | undefined> {
  if (declared === 0 || ((req.method === 'GET' || req.method === 'HEAD') && declared === undefined && req.headers['transfer-encoding'] === undefined)) return Promise.resolve(undefined)
  if (declared !== undefined && declared > RETRYABLE_BODY_BYTES) return Promise.resolve(streamedBody(req, [], 0))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = () => req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
      if (size <= RETRYABLE_BODY_BYTES) return
      stop()
      resolve(streamedBody(req, chunks, size))
    }
    const onEnd = () => {
      stop()
      resolve(Buffer.concat(chunks))
    }
    const onError = (error: Error) => {
      stop()
      reject(new CcredError('ERR_PROTOCOL', 'the client closed the request', { cause: error }))
    }
    const onClose = () => onError(new Error('closed'))
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose)
  })
}

function streamedBody(req: IncomingMessage, read: Buffer[], readBytes: number): Readable {
  const stream = new PassThrough()
  for (const chunk of read) stream.write(chunk)
  let size = readBytes
  req.on('data', (chunk: Buffer) => {
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      stream.destroy(new CcredError('ERR_PROTOCOL', 'request body too large'))
      req.destroy()
    }
  })
  req.pipe(stream)
  return stream
}
