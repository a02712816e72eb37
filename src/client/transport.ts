import { connect } from 'node:net'
import { RUNTIME_FILE_NAMES, runtimeDir, SOCKET_NAME } from '../config/paths.js'
import { openRuntimeDir, RuntimeDirMissing } from '../rendezvous/runtime-dir.js'
import { readPipeName } from '../rendezvous/windows-pipe.js'
import { challengeFor, CHALLENGE_HEADER, daemonMustProveItself, DaemonNotProven } from '../rendezvous/daemon-proof.js'
import { hostPlatform, type Platform } from '../platform.js'
import { ROUTES } from '../protocol.js'
import { CcredError } from '../errors.js'

/**
 * A deliberately tiny HTTP/1.1 client over the Unix socket. node:http would cost
 * the `get` path several milliseconds of module loading for one request; the
 * daemon always answers with Content-Length, so this is all it takes.
 */
export interface DaemonResponse {
  status: number
  body: unknown
}

/** The daemon is not there (no socket, or nobody listening): autostart may help. */
export class DaemonNotRunning extends Error {
  constructor(readonly reason: string) {
    super(reason)
  }
}

const MAX_RESPONSE_BYTES = 1024 * 1024

export type Env = Record<string, string | undefined>

/**
 * The one way any command reaches the daemon: the runtime directory is opened
 * and checked (see runtime-dir.ts) and the socket is reached through that pinned
 * handle, so a directory that another user can change, or swaps after the check,
 * never gets a request. An unsafe directory throws its CcredError (naming the
 * directory and the fix); a missing directory or socket is DaemonNotRunning.
 */
export async function requestDaemon(env: Env, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 120_000, platform: Platform = hostPlatform(env)): Promise<DaemonResponse> {
  let dir
  try {
    dir = openRuntimeDir(runtimeDir(env, platform), platform.os)
  } catch (error) {
    if (error instanceof RuntimeDirMissing) throw new DaemonNotRunning('no runtime directory')
    throw error
  }
  try {
    if (platform.os === 'win32') {
      // A named pipe whose random name the daemon recorded in the runtime directory (rendezvous/windows-pipe.ts).
      const pipe = readPipeName(dir.file(RUNTIME_FILE_NAMES.pipeName))
      if (pipe === undefined) throw new DaemonNotRunning('no pipe name recorded')
      let proof: Proof | undefined
      if (daemonMustProveItself(platform.os)) {
        proof = await challengeFor(dir.file(RUNTIME_FILE_NAMES.daemonKey))
        // A pipe record without a key: a daemon died mid-start or before this version; a new one writes both.
        if (proof === undefined) throw new DaemonNotRunning('no daemon key recorded')
      }
      return await requestOverSocket(pipe, pipe, method, path, body, timeoutMs, proof)
    }
    return await requestOverSocket(dir.file(SOCKET_NAME), dir.displayFile(SOCKET_NAME), method, path, body, timeoutMs)
  } finally {
    dir.close()
  }
}

interface Proof {
  challenge: string
  expectedProof: string
}

/** One complete HTTP response at the start of `raw` (the daemon always sends Content-Length), or undefined when more is to come. */
function completeResponse(raw: Buffer): DaemonResponse | undefined {
  const headerEnd = raw.indexOf('\r\n\r\n')
  if (headerEnd < 0) return undefined
  const length = /\r\ncontent-length: *(\d+)/i.exec(raw.subarray(0, headerEnd).toString('latin1'))
  if (length === null) return parseResponse(raw)
  if (raw.length < headerEnd + 4 + Number(length[1])) return undefined
  return parseResponse(raw.subarray(0, headerEnd + 4 + Number(length[1])))
}

/**
 * With `proof`, the connection first carries `GET /v1/hello` with a challenge, and the request
 * itself goes out on the same connection only once the answer proves the daemon's key
 * (rendezvous/daemon-proof.ts); anything else closes it with DaemonNotProven.
 */
function requestOverSocket(socket: string, socketForMessages: string, method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number, proof?: Proof): Promise<DaemonResponse> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : JSON.stringify(body)
    const conn = connect(socket)
    let chunks: Buffer[] = []
    let size = 0
    let settled = false
    let proven = proof === undefined
    const finish = (error: Error | undefined, response?: DaemonResponse) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      conn.destroy()
      if (error !== undefined) reject(error)
      else resolve(response!)
    }
    const timer = setTimeout(() => finish(new CcredError('ERR_DAEMON', `the daemon did not answer within ${Math.round(timeoutMs / 1000)}s`, {
      hint: 'see `ccred status`; restart it with: ccred daemon stop',
    })), timeoutMs)
    const sendRequest = () => conn.write(
      `${method} ${path} HTTP/1.1\r\nHost: ccred\r\nConnection: close\r\n` +
        (body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n`) +
        `\r\n${payload}`,
    )
    conn.on('connect', () => {
      if (proof === undefined) sendRequest()
      else conn.write(`GET ${ROUTES.hello} HTTP/1.1\r\nHost: ccred\r\n${CHALLENGE_HEADER}: ${proof.challenge}\r\n\r\n`)
    })
    conn.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_RESPONSE_BYTES) return finish(new CcredError('ERR_PROTOCOL', 'the daemon sent more than 1 MiB', { hint: 'run: ccred daemon stop' }))
      chunks.push(chunk)
      if (proven) return
      let hello: DaemonResponse | undefined
      try {
        hello = completeResponse(Buffer.concat(chunks))
      } catch {
        return finish(new DaemonNotProven(socketForMessages))
      }
      if (hello === undefined) return
      // Not secret: the proof is good for this one random challenge only, so a plain comparison leaks nothing usable.
      if (hello.status !== 200 || (hello.body as { proof?: unknown } | null)?.proof !== proof!.expectedProof) return finish(new DaemonNotProven(socketForMessages))
      proven = true
      chunks = []
      size = 0
      sendRequest()
    })
    conn.on('end', () => {
      if (!proven) return finish(new DaemonNotProven(socketForMessages))
      // The daemon closed the connection without answering: it died mid-request
      // (SIGKILL, OOM). Same as absent: the caller starts a new one and asks again once.
      if (size === 0) return finish(new DaemonNotRunning('closed without an answer'))
      try {
        finish(undefined, parseResponse(Buffer.concat(chunks)))
      } catch (error) {
        finish(error as Error)
      }
    })
    conn.on('error', (error: NodeJS.ErrnoException) => {
      // ECONNRESET/EPIPE: the daemon died with this request in flight (see 'end' above).
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET' || error.code === 'EPIPE') finish(new DaemonNotRunning(error.code))
      else finish(new CcredError('ERR_DAEMON', `cannot talk to the daemon at ${socketForMessages} (${error.code ?? error.message})`, { cause: error, hint: 'run: ccred daemon stop, then try again' }))
    })
  })
}

function parseResponse(raw: Buffer): DaemonResponse {
  const text = raw.toString('utf8')
  const headerEnd = text.indexOf('\r\n\r\n')
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  if (headerEnd < 0 || statusMatch === null) {
    throw new CcredError('ERR_PROTOCOL', 'the daemon sent a malformed response', { hint: 'run: ccred daemon stop   (the next command starts a fresh one)' })
  }
  const bodyText = text.slice(headerEnd + 4)
  try {
    return { status: Number(statusMatch[1]), body: bodyText === '' ? null : JSON.parse(bodyText) }
  } catch {
    throw new CcredError('ERR_PROTOCOL', 'the daemon sent a response that is not JSON', { hint: 'run: ccred daemon stop   (the next command starts a fresh one)' })
  }
}

/** Turns an error response back into the CcredError the daemon raised. */
export function unwrap<T>(response: DaemonResponse): T {
  const body = response.body as { error?: unknown } | null
  if (response.status >= 400 || (body !== null && typeof body === 'object' && 'error' in body)) {
    throw CcredError.fromJSON(body?.error)
  }
  return response.body as T
}
