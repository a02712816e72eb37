// The client facing a daemon that answers wrongly: a tiny fake server listens on the socket path
// (the real client, the real CLI), and each broken reply must become one coded line, never a hang,
// a crash or a half-printed credential. Also the `get` warm path's own argument parser.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { parseWarmGet } from '../../src/cli/parse-warm-get.js'
import { requestDaemon, unwrap } from '../../src/client/transport.js'
import { SOCKET_NAME } from '../../src/config/paths.js'
import { CcredError, EXIT_CODES } from '../../src/errors.js'
import { Sandbox } from '../helpers/sandbox.js'

const MiB = 1024 * 1024
const cleanups: (() => Promise<void> | void)[] = []
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

/** What the fake daemon does with each connection once the request has arrived. */
type Reply = (socket: Socket) => void

async function fakeDaemon(socketPath: string, reply: Reply): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined)
    let head = ''
    let answered = false
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1')
      // The client sends one small request; answer once its head is in.
      if (!answered && head.includes('\r\n\r\n')) {
        answered = true
        reply(socket)
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => resolve())
  })
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return server
}

function httpReply(status: number, body: string): Reply {
  return (socket) => socket.end(`HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

/** A private runtime directory (as the daemon makes it) for the fake: its socket path and the env that points there. */
function tempSocket(): { path: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'ccred-fake-daemon-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const runtime = join(dir, 'run')
  mkdirSync(runtime, { mode: 0o700 })
  return { path: join(runtime, SOCKET_NAME), env: { CCRED_RUNTIME_DIR: runtime, HOME: dir } }
}

async function rejection(promise: Promise<unknown>): Promise<CcredError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof CcredError, `a CcredError, not ${String(error)}`)
    return error
  }
  assert.fail('expected a rejection')
}

describe('the client facing a broken daemon reply (requestDaemon, a fake server on the socket)', () => {
  it('no answer: ERR_DAEMON at the timeout it was given, not a hang', async () => {
    const socket = tempSocket()
    await fakeDaemon(socket.path, () => undefined) // reads the request, never answers
    const error = await rejection(requestDaemon(socket.env, 'GET', '/v1/health', undefined, 300))
    assert.equal(error.code, 'ERR_DAEMON')
    assert.match(error.message, /^the daemon did not answer within 0s$|^the daemon did not answer within \d+s$/)
    assert.match(error.hint ?? '', /ccred daemon stop/)
  })

  it('more than 1 MiB: ERR_PROTOCOL, and the client stops reading', async () => {
    const socket = tempSocket()
    let written = 0
    await fakeDaemon(socket.path, (conn) => {
      conn.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3145728\r\n\r\n')
      const chunk = Buffer.alloc(64 * 1024, 'a')
      const pump = () => {
        while (written < 3 * MiB) {
          written += chunk.length
          if (!conn.write(chunk)) return void conn.once('drain', pump)
        }
        conn.end()
      }
      pump()
    })
    const error = await rejection(requestDaemon(socket.env, 'GET', '/v1/health', undefined, 30_000))
    assert.equal(error.code, 'ERR_PROTOCOL')
    assert.equal(error.message, 'the daemon sent more than 1 MiB')
  })

  it('not HTTP: ERR_PROTOCOL "malformed"', async () => {
    const socket = tempSocket()
    await fakeDaemon(socket.path, (conn) => conn.end('SSH-2.0-OpenSSH_9.6\r\n'))
    const error = await rejection(requestDaemon(socket.env, 'GET', '/v1/health', undefined, 30_000))
    assert.equal(error.code, 'ERR_PROTOCOL')
    assert.equal(error.message, 'the daemon sent a malformed response')
  })

  it('HTTP with a body that is not JSON: ERR_PROTOCOL "not JSON"', async () => {
    const socket = tempSocket()
    await fakeDaemon(socket.path, httpReply(200, '<html>proxy error</html>'))
    const error = await rejection(requestDaemon(socket.env, 'GET', '/v1/health', undefined, 30_000))
    assert.equal(error.code, 'ERR_PROTOCOL')
    assert.equal(error.message, 'the daemon sent a response that is not JSON')
  })

  it('an error code this client does not know (a newer daemon): ERR_PROTOCOL saying so, never a crash', async () => {
    const socket = tempSocket()
    await fakeDaemon(socket.path, httpReply(500, JSON.stringify({ error: { code: 'ERR_FROM_THE_FUTURE', message: 'something new', hint: 'upgrade' } })))
    const error = await rejection(requestDaemon(socket.env, 'GET', '/v1/health', undefined, 30_000).then((response) => unwrap(response)))
    assert.equal(error.code, 'ERR_PROTOCOL')
    assert.equal(error.message, 'the daemon sent an error ccred does not understand')
    assert.match(error.hint ?? '', /ccred daemon stop/)
  })

  it('a known error code comes back as that error', async () => {
    const socket = tempSocket()
    await fakeDaemon(socket.path, httpReply(404, JSON.stringify({ error: { code: 'ERR_PROFILE_UNKNOWN', message: 'no profile "x"', hint: 'run: ccred profiles' } })))
    const error = await rejection(requestDaemon(socket.env, 'GET', '/v1/health', undefined, 30_000).then((response) => unwrap(response)))
    assert.deepEqual([error.code, error.message, error.hint], ['ERR_PROFILE_UNKNOWN', 'no profile "x"', 'run: ccred profiles'])
  })
})

describe('`ccred get` facing a broken daemon (the real CLI, a fake server on the sandbox socket)', () => {
  for (const [label, reply, expected] of [
    ['a body that is not JSON', httpReply(200, 'not json at all'), /^ccred: the daemon sent a response that is not JSON \[ERR_PROTOCOL\] — run: ccred daemon stop/],
    ['an unknown error code', httpReply(500, JSON.stringify({ error: { code: 'ERR_FROM_THE_FUTURE', message: 'x', hint: 'y' } })), /^ccred: the daemon sent an error ccred does not understand \[ERR_PROTOCOL\] — run: ccred daemon stop/],
    ['a reply that is not HTTP', ((conn: Socket) => conn.end('garbage')) as Reply, /^ccred: the daemon sent a malformed response \[ERR_PROTOCOL\]/],
  ] as const) {
    it(`${label}: exit ${EXIT_CODES.ERR_PROTOCOL}, one coded line on stderr, nothing on stdout`, async () => {
      const box = new Sandbox()
      cleanups.push(() => box.cleanup())
      box.writeConfig('[profiles.demo]\nsource = "demo"\n')
      // The runtime directory as the daemon would make it (0700), with the fake on its socket.
      mkdirSync(box.runtimeDir, { recursive: true, mode: 0o700 })
      await fakeDaemon(join(box.runtimeDir, SOCKET_NAME), reply)
      const got = await box.run(['get', 'demo'], { timeoutMs: 30_000 })
      assert.equal(got.stdout, '')
      assert.match(got.stderr, expected)
      assert.equal(got.stderr.trim().split('\n').length, 1, `one line: ${got.stderr}`)
      assert.equal(got.code, EXIT_CODES.ERR_PROTOCOL, got.stderr)
    })
  }
})

describe('the `get` warm path argument parser', () => {
  it('reads the plain forms, --header X and --header=X alike', () => {
    assert.deepEqual(parseWarmGet(['gw']), { profile: 'gw', options: {} })
    assert.deepEqual(parseWarmGet(['gw', '--refresh', '--json']), { profile: 'gw', options: { refresh: true, json: true } })
    assert.deepEqual(parseWarmGet(['gw', '--header', 'proxy-authorization']), { profile: 'gw', options: { header: 'proxy-authorization' } })
    assert.deepEqual(parseWarmGet(['--header=proxy-authorization', 'gw']), { profile: 'gw', options: { header: 'proxy-authorization' } })
    assert.deepEqual(parseWarmGet(['gw', '--header=authorization', '--refresh']), { profile: 'gw', options: { header: 'authorization', refresh: true } })
  })

  it('takes --format headers (MCP headersHelper, otelHeadersHelper runs are warm-path gets)', () => {
    assert.deepEqual(parseWarmGet(['gw', '--format', 'headers']), { profile: 'gw', options: { format: 'headers' } })
  })

  it('hands everything else to the full CLI (undefined)', () => {
    for (const args of [[], ['--json'], ['gw', 'other'], ['gw', '--help'], ['gw', '--format'], ['gw', '--format', '--json'], ['gw', '--header'], ['gw', '--header', '--json'], ['-x', 'gw']]) {
      assert.equal(parseWarmGet(args), undefined, JSON.stringify(args))
    }
  })

  it('the --header= form gives the same output as the spaced form, through the real warm path', async () => {
    const box = new Sandbox()
    cleanups.push(() => box.cleanup())
    box.writeConfig('[profiles.demo]\nsource = "demo"\n')
    const plain = await box.run(['get', 'demo'], { distinctCaller: true })
    assert.equal(plain.code, 0, plain.stderr)
    const spaced = await box.run(['get', 'demo', '--header', 'proxy-authorization'], { distinctCaller: true })
    const joined = await box.run(['get', 'demo', '--header=proxy-authorization'], { distinctCaller: true })
    assert.equal(spaced.code, 0, spaced.stderr)
    assert.equal(joined.code, 0, joined.stderr)
    // The proxy form: the whole header value, "Bearer <token>", for both spellings.
    assert.match(plain.stdout, /^ccred-demo-[0-9a-f]+\n$/)
    assert.match(spaced.stdout, /^Bearer ccred-demo-[0-9a-f]+\n$/)
    assert.match(joined.stdout, /^Bearer ccred-demo-[0-9a-f]+\n$/)
  })
})
