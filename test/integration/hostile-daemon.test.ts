import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { ERROR_EXIT_CODES } from '../../src/errors.js'
import { Sandbox } from '../helpers/sandbox.js'

/**
 * Hostile input to the daemon's HTTP API (issue 8, item 3): raw bytes over the
 * real daemon's Unix socket. After every case the daemon still answers
 * /v1/health with the same pid; every error is {"error": {code, message, hint}}
 * with a stable code and a 4xx status; nothing a client sends comes back in a
 * header or as a line of its own in the daemon or audit log.
 */

interface RawResponse {
  status: number
  head: string
  body: string
}

/** Splits what the daemon wrote into responses (each has a content-length; the daemon never chunks). */
function parseResponses(raw: string): RawResponse[] {
  const out: RawResponse[] = []
  let rest = raw
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n')
    assert.ok(end > 0, `an incomplete response head: ${JSON.stringify(rest.slice(0, 200))}`)
    const head = rest.slice(0, end)
    const status = /^HTTP\/1\.[01] (\d{3}) /.exec(head)
    assert.ok(status !== null, `not an HTTP response: ${JSON.stringify(head.slice(0, 200))}`)
    let length = /\r\ncontent-length: (\d+)/i.exec(head)
    // Node itself answers a parse error inside a chunked body with an empty chunked 400
    // before the daemon sees the request; that is the one answer without a length.
    if (length === null && /\r\ntransfer-encoding: chunked/i.test(head) && rest.slice(end + 4).startsWith('0\r\n\r\n')) {
      out.push({ status: Number(status[1]), head, body: '' })
      rest = rest.slice(end + 9)
      continue
    }
    assert.ok(length !== null, `a response without content-length: ${head}`)
    const bodyStart = Buffer.from(rest.slice(0, end + 4), 'latin1').length
    const bytes = Buffer.from(rest, 'latin1')
    const body = bytes.subarray(bodyStart, bodyStart + Number(length[1])).toString('utf8')
    out.push({ status: Number(status[1]), head, body })
    rest = bytes.subarray(bodyStart + Number(length[1])).toString('latin1')
  }
  return out
}

/**
 * Writes `request` on a new connection, half-closes it, and returns every
 * response the daemon wrote before closing. Bounded: a daemon that keeps the
 * connection open past `timeoutMs` fails the test.
 */
function exchange(socketPath: string, request: string | Buffer, timeoutMs = 20_000): Promise<RawResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the daemon kept the connection open for ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`))
    }, timeoutMs)
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    // EPIPE/ECONNRESET when the daemon refuses before reading everything: what it wrote still counts.
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(timer)
      try {
        resolve(parseResponses(Buffer.concat(chunks).toString('latin1')))
      } catch (error) {
        reject(error)
      }
    })
    socket.end(request)
  })
}

function post(path: string, body: string | Buffer, headers: Record<string, string> = {}): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nhost: ccred\r\ncontent-type: application/json\r\ncontent-length: ${bytes.length}\r\n${extra}\r\n`), bytes])
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nhost: ccred\r\n\r\n`

const CODES = new Set(Object.keys(ERROR_EXIT_CODES))

/**
 * One answer to bytes nobody chose: a 200 must be a real answer of the daemon (JSON, read and
 * checked), anything else a coded 4xx. The one empty 4xx allowed is Node's own chunked 400 for a
 * broken chunked body, which the daemon never sees.
 */
function assertHostileAnswer(response: RawResponse, shown: string): void {
  if (response.status === 200) {
    assert.match(response.head, /\r\ncontent-type: application\/json/i, `a 200 to ${shown} is JSON`)
    const parsed = JSON.parse(response.body) as Record<string, unknown>
    assert.ok(typeof parsed === 'object' && parsed !== null && !('error' in parsed), `a 200 to ${shown} is not an error: ${response.body.slice(0, 200)}`)
    return
  }
  assert.ok(response.status >= 400 && response.status < 500, `status ${response.status} for ${shown}`)
  if (response.body === '') {
    assert.equal(response.status, 400, `an empty ${response.status} for ${shown}`)
    assert.match(response.head, /\r\ntransfer-encoding: chunked/i, `an empty answer that is not Node's chunked 400, for ${shown}`)
    return
  }
  assertCodedError(response)
}

/** A coded JSON error with a 4xx status, in the daemon's error shape. */
function assertCodedError(response: RawResponse, expectedCode?: string): { code: string; message: string; hint: string } {
  assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}: ${response.body.slice(0, 300)}`)
  assert.match(response.head, /\r\ncontent-type: application\/json/i)
  const parsed = JSON.parse(response.body) as { error: { code: string; message: string; hint: string } }
  const { code, message, hint } = parsed.error
  assert.ok(CODES.has(code), `unknown code ${code}`)
  assert.equal(typeof message, 'string')
  assert.ok(typeof hint === 'string' && hint !== '', 'every error says what to do next')
  if (expectedCode !== undefined) assert.equal(code, expectedCode, message)
  return parsed.error
}

/**
 * Sends `head`, then `piece` again and again up to `totalBytes`, stopping as soon as the
 * daemon answers or closes; a daemon that buffered everything would read it all first.
 */
async function pushUntilAnswered(path: string, head: string, piece: Buffer, totalBytes: number): Promise<{ response: RawResponse | undefined; writtenBytes: number }> {
  const socket = connect(path)
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write(head)
  let writtenBytes = 0
  while (writtenBytes < totalBytes && !socket.destroyed && received.length === 0) {
    const flushed = socket.write(piece)
    writtenBytes += piece.length
    if (!flushed) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed, new Promise((resolve) => socket.once('data', resolve))])
    // Let an answer that has arrived be seen: small pieces fit the kernel's socket buffer,
    // so without yielding the loop could write everything before any 'data' event runs.
    else await new Promise((resolve) => setImmediate(resolve))
  }
  socket.end()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([closed, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the daemon did not close the connection')), 5_000) })])
  clearTimeout(timer)
  return { response: parseResponses(Buffer.concat(received).toString('latin1'))[0], writtenBytes }
}

const box = new Sandbox()
let socketPath = ''
let daemonPid = 0

/** The daemon still answers health with the pid it started with. */
async function assertAlive(): Promise<void> {
  const [health] = await exchange(socketPath, get('/v1/health'))
  assert.equal(health?.status, 200)
  assert.equal((JSON.parse(health!.body) as { pid: number }).pid, daemonPid, 'the daemon was restarted')
}

before(async () => {
  box.writeConfig('[profiles.demo]\nsource = "demo"\n')
  const started = await box.run(['daemon', 'start'])
  assert.equal(started.code, 0, started.stderr)
  socketPath = join(box.runtimeDir, 'ccred.sock')
  daemonPid = box.daemonPid()!
  assert.ok(daemonPid > 0)
})
after(async () => {
  await box.cleanup()
})

describe('hostile requests to the daemon', () => {
  it('a well-formed request works (the baseline the other cases are measured against)', async () => {
    const [ok] = await exchange(socketPath, post('/v1/credential', '{"profile":"demo","clientPid":1}'))
    assert.equal(ok?.status, 200, ok?.body)
    assert.match((JSON.parse(ok!.body) as { value: string }).value, /^ccred-demo-/)
    await assertAlive()
  })

  it('malformed JSON and bodies of the wrong type: 400 ERR_PROTOCOL', async () => {
    const bodies = ['{"profile":', '{', '}', 'null', '[]', '["demo"]', '"demo"', '42', 'true', '\u0000', '\uFEFF{"profile":"demo"}', 'profile=demo',
      '{"profile":42}', '{"profile":["demo"]}', '{"profile":{"name":"demo"}}', '{"profile":null}', '{"profile":""}', '{"profile":true}', '{}',
      '{"profile":"demo","clientPid":"1"}', '{"profile":"demo","clientPid":-1}', '{"profile":"demo","callerTtlMs":1e999}', '{"profile":"demo","header":"x-evil"}',
      '{"profile":"demo","rejected":"yes"}', '{"profile":"demo","header":["authorization"]}']
    for (const body of bodies) {
      const [response] = await exchange(socketPath, post('/v1/credential', body))
      assert.ok(response !== undefined, `no answer to ${body}`)
      assertCodedError(response, 'ERR_PROTOCOL')
    }
    for (const body of ['{', '[]', '{"profile":7}']) assertCodedError((await exchange(socketPath, post('/v1/purge', body)))[0]!, 'ERR_PROTOCOL')
    await assertAlive()
  })

  it('the content type is not trusted: a non-JSON body under any content type is ERR_PROTOCOL', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
      const [response] = await exchange(socketPath, post('/v1/credential', 'profile=demo', { 'content-type': type }).toString('latin1').replace('content-type: application/json\r\n', ''))
      assertCodedError(response!, 'ERR_PROTOCOL')
    }
    await assertAlive()
  })

  it('arbitrary JSON bodies: a credential or a coded 4xx, never a crash', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.json({ maxDepth: 3 }),
        fc.record({ profile: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('demo'), fc.jsonValue({ maxDepth: 1 })), header: fc.jsonValue({ maxDepth: 1 }), clientPid: fc.jsonValue({ maxDepth: 1 }), configPath: fc.string({ maxLength: 20 }) }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
      ),
      async (body) => {
        const [response] = await exchange(socketPath, post('/v1/credential', body))
        assert.ok(response !== undefined, `no answer to ${body}`)
        if (response.status !== 200) assertCodedError(response)
        // A 200 is read: only the one profile there is can come back, as its credential.
        else assert.match((JSON.parse(response.body) as { value: string }).value, /^ccred-demo-/, `a 200 to ${body}: ${response.body.slice(0, 200)}`)
      },
    ), { numRuns: 60 })
    await assertAlive()
  })

  it('odd profile names (traversal, NUL, CR/LF, unicode, 10 KB): ERR_PROFILE_UNKNOWN, never quoted back or logged raw', async () => {
    const names = ['../../etc/passwd', '..', '.', '/etc/passwd', 'demo/../demo', 'demo\u0000', '\u0000', 'demo\r\nX-Injected: 1', 'demo\nccred daemon: forged line', 'démo', '😀', '\u202edemo', ' demo', 'demo ', 'a'.repeat(10 * 1024), '%2e%2e%2f', 'keychain:demo', 'env:HOME']
    for (const name of names) {
      for (const path of ['/v1/credential', '/v1/purge']) {
        const [response] = await exchange(socketPath, post(path, JSON.stringify({ profile: name })))
        const error = assertCodedError(response!, 'ERR_PROFILE_UNKNOWN')
        if (name.length > 2) assert.ok(!error.message.includes(name), `the name is quoted back: ${error.message.slice(0, 200)}`)
        assert.ok(!/x-injected/i.test(response!.head), 'a header was injected')
        assert.ok(response!.body.length < 2_000, 'a short answer, whatever the name')
      }
    }
    for (const log of [box.daemonLog(), box.auditLog()]) {
      assert.ok(!/^X-Injected/m.test(log), 'a forged line in a log')
      assert.ok(!/^ccred daemon: forged line/m.test(log), 'a forged line in a log')
      assert.ok(!log.includes('etc/passwd'), 'a hostile name reached a log')
    }
    await assertAlive()
  })

  it('unknown versions, paths and methods: 4xx ERR_PROTOCOL', async () => {
    const requests = ['/v2/credential', '/v0/health', '/v1/../v1/status', '/v1/status/', '//v1/status', '/%2e%2e/v1/status', '/v1/credential/../status', '/', '*', '/v1/health/../../etc/passwd', `/${'x'.repeat(8_000)}`]
      .map((path) => get(path))
    requests.push(post('/v2/credential', '{"profile":"demo"}').toString('latin1'))
    for (const method of ['DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD']) requests.push(`${method} /v1/credential HTTP/1.1\r\nhost: ccred\r\ncontent-length: 0\r\n\r\n`)
    requests.push(get('/v1/credential'), get('/v1/shutdown'), get('/v1/purge'))
    for (const request of requests) {
      const responses = await exchange(socketPath, request)
      assert.equal(responses.length, 1, `one answer to ${request.slice(0, 80)}`)
      // HEAD gets no body by HTTP's rules; its status is enough.
      if (request.startsWith('HEAD')) assert.equal(responses[0]!.status, 400)
      else assertCodedError(responses[0]!, 'ERR_PROTOCOL')
    }
    await assertAlive()
  })

  it('requests that are not HTTP, and pipelined garbage: a coded 400, then the connection closes', async () => {
    const garbage = ['garbage\r\n\r\n', 'BREW /v1/health HTTP/1.1\r\n\r\n', 'GET /v1/health HTTP/9.9\r\n\r\n', 'GET /v1/he\u0000alth HTTP/1.1\r\n\r\n', 'GET\r\n\r\n',
      'POST /v1/credential HTTP/1.1\r\ncontent-length: -1\r\n\r\n', 'POST /v1/credential HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\n{}{}{}{',
      'POST /v1/credential HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 'GET /v1/health HTTP/1.1\r\nbad header\r\n\r\n', 'GET /v1/health HTTP/1.1\r\nx: a\rb\r\n\r\n']
    for (const request of garbage) {
      const responses = await exchange(socketPath, request)
      assert.equal(responses.length, 1, `one answer to ${JSON.stringify(request)}`)
      if (responses[0]!.body === '' && request.includes('chunked')) assert.equal(responses[0]!.status, 400)
      else assertCodedError(responses[0]!, 'ERR_PROTOCOL')
    }
    // A request answered before the garbage is parsed keeps its answer; the garbage gets a
    // coded 400 and the connection closes (an answer still pending then is dropped with it).
    const pipelined = await exchange(socketPath, `${get('/v1/health')}${post('/v1/credential', '{"profile":"demo"}').toString('latin1')}\u0001\u0002garbage\r\n\r\n${get('/v1/health')}`)
    assert.equal(pipelined[0]?.status, 200)
    assert.ok(pipelined.length >= 2 && pipelined.length <= 3, `answers: ${pipelined.map((r) => r.status).join(', ')}`)
    assertCodedError(pipelined.at(-1)!, 'ERR_PROTOCOL')
    await assertAlive()
  })

  it('arbitrary bytes on the socket: only coded errors, never a crash', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
        fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'XYZ', ''), fc.string({ maxLength: 30 }), fc.string({ maxLength: 60 })).map(([m, p, rest]) => Buffer.from(`${m} ${p} HTTP/1.1\r\n${rest}\r\n\r\n`)),
      ),
      async (bytes) => {
        const shown = JSON.stringify(bytes.toString('latin1'))
        const responses = await exchange(socketPath, bytes)
        // Silence is right only for nothing sent: every other byte string, complete or cut off by
        // the half-close, is answered (a parse error is a coded 400, never a dropped connection).
        if (bytes.length > 0) assert.ok(responses.length > 0, `no answer to ${shown}`)
        for (const response of responses) assertHostileAnswer(response, shown)
      },
    ), { numRuns: 80 })
    await assertAlive()
  })

  it('1 MiB of headers: 431 with a coded JSON error, before all of it is sent', async () => {
    const many = await pushUntilAnswered(socketPath, 'GET /v1/health HTTP/1.1\r\nhost: ccred\r\n', Buffer.from(`x-filler: ${'a'.repeat(1024)}\r\n`), 1024 * 1024)
    assert.equal(many.response?.status, 431)
    assertCodedError(many.response, 'ERR_PROTOCOL')
    assert.ok(many.writtenBytes < 1024 * 1024)
    const single = await pushUntilAnswered(socketPath, 'GET /v1/health HTTP/1.1\r\nx-one: ', Buffer.alloc(1024, 'b'), 1024 * 1024)
    assert.equal(single.response?.status, 431)
    assertCodedError(single.response, 'ERR_PROTOCOL')
    await assertAlive()
  })

  it('a 10 MiB body is refused with 413 before it is read (declared or chunked)', async () => {
    for (const chunked of [false, true]) {
      const head = chunked
        ? 'POST /v1/credential HTTP/1.1\r\nhost: ccred\r\ntransfer-encoding: chunked\r\n\r\n'
        : `POST /v1/credential HTTP/1.1\r\nhost: ccred\r\ncontent-length: ${10 * 1024 * 1024}\r\n\r\n`
      const piece = Buffer.alloc(64 * 1024, 'a')
      const frame = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece
      const { response, writtenBytes } = await pushUntilAnswered(socketPath, head, frame, 10 * 1024 * 1024)
      assert.equal(response?.status, 413, `chunked=${chunked}`)
      assertCodedError(response, 'ERR_PROTOCOL')
      assert.ok(writtenBytes < 10 * 1024 * 1024, `refused after ${writtenBytes} bytes, before the whole body`)
    }
    await assertAlive()
  })

  it('slowloris: half-sent requests do not stop other clients; closing them leaves the daemon well', async () => {
    const partials = ['GET /v1/hea', 'POST /v1/credential HTTP/1.1\r\nhost: ccred\r\n', 'POST /v1/credential HTTP/1.1\r\ncontent-length: 100\r\n\r\n{"pro', 'P']
    const slow: Socket[] = []
    for (let i = 0; i < 40; i++) {
      const socket = connect(socketPath)
      socket.on('error', () => undefined)
      socket.write(partials[i % partials.length]!)
      slow.push(socket)
    }
    try {
      await assertAlive()
      const got = await box.run(['get', 'demo'])
      assert.equal(got.code, 0, got.stderr)
      assert.match(got.stdout, /^ccred-demo-[0-9a-f]{32}\n$/)
      const [ok] = await exchange(socketPath, post('/v1/credential', '{"profile":"demo"}'))
      assert.equal(ok?.status, 200)
    } finally {
      for (const socket of slow) socket.destroy()
    }
    await assertAlive()
    const status = await box.run(['status', '--json'])
    assert.equal(status.code, 0, status.stderr)
  })
})
