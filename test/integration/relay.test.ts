import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import http from 'node:http'
import { startForwardProxy } from '../helpers/forward-proxy.js'
import { startLlmUpstream, type LlmUpstream } from '../helpers/llm-upstream.js'
import { Sandbox, waitFor } from '../helpers/sandbox.js'

/**
 * `ccred relay` through the real CLI and the real daemon to a loopback LLM upstream
 * that accepts one credential at a time (docs/relay.md). The profile's exec script
 * prints tok-1, tok-2, … one per run: rotating means the upstream now wants the next.
 */
const OTHER_USER = 'ccredrelayuser'

const COUNTER_SCRIPT = (counter: string) => `#!/bin/sh
n=$(( $(cat ${counter} 2>/dev/null || echo 0) + 1 ))
echo $n > ${counter}
echo "tok-$n"
`

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    let answer = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk })
    socket.on('error', reject)
    socket.on('close', () => resolve(answer))
    socket.on('connect', () => socket.write(text))
    setTimeout(() => socket.destroy(), 3_000).unref()
  })
}

describe('relay: a loopback route that adds the profile\'s current credential', () => {
  let box: Sandbox
  let upstream: LlmUpstream
  let baseUrl: string
  let key: string
  let port: number

  before(async () => {
    box = new Sandbox()
    upstream = await startLlmUpstream({ header: 'x-litellm-api-key', prefix: 'Bearer ', accepted: 'tok-1' })
    const script = box.writeScript('token.sh', COUNTER_SCRIPT(box.file('counter')))
    box.writeConfig(`[profiles.gw]
source = "exec"
command = ["${script}"]
headers = { "x-litellm-api-key" = "Bearer \${token}", "cf-aig-authorization" = "Bearer \${token}" }
`)
    const started = await box.run(['relay', 'start', 'gw', '--upstream', `${upstream.url}/v1`])
    assert.equal(started.code, 0, started.stderr)
    baseUrl = started.stdout.trim()
    assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
    port = Number(new URL(baseUrl).port)
    const keyFile = `${box.stateDir}/relay/gw.key`
    key = readFileSync(keyFile, 'utf8').trim()
    assert.match(key, /^[0-9a-f]{64}$/, '256 bits of key')
    assert.equal(statSync(keyFile).mode & 0o777, 0o600)
    assert.equal(statSync(`${box.stateDir}/relay/gw.json`).mode & 0o777, 0o600)
  })
  after(async () => {
    await box.cleanup()
    await upstream.close()
  })

  const chat = (headers: Record<string, string>) => fetch(`${baseUrl}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'm', stream: true, messages: [] }),
  })

  it('forwards with every header of the profile, removes the client\'s key, streams the SSE answer', async () => {
    const before = upstream.requests.length
    const answer = await chat({ authorization: `Bearer ${key}`, 'x-client': 'kept' })
    assert.equal(answer.status, 200)
    assert.equal(answer.headers.get('content-type'), 'text/event-stream')
    const text = await answer.text()
    assert.match(text, /pong from upstream[\s\S]*data: \[DONE\]/)
    const seen = upstream.requests.slice(before)
    assert.equal(seen.length, 1)
    assert.equal(seen[0]!.path, '/v1/chat/completions')
    assert.equal(seen[0]!.headers['x-litellm-api-key'], 'Bearer tok-1')
    assert.equal(seen[0]!.headers['cf-aig-authorization'], 'Bearer tok-1')
    assert.equal(seen[0]!.headers['x-client'], 'kept')
    assert.equal(seen[0]!.headers.host, `127.0.0.1:${upstream.port}`, 'the upstream\'s own Host')
    assert.ok(!JSON.stringify(seen[0]!.headers).includes(key), 'the local key never goes upstream')
  })

  it('takes the key in whatever key header the client uses (x-api-key, x-goog-api-key)', async () => {
    assert.equal((await chat({ 'x-api-key': key })).status, 200)
    assert.equal((await chat({ 'x-goog-api-key': key })).status, 200)
  })

  it('the token rotates (the old one now gets 401): one fresh credential, one retry, the client sees 200', async () => {
    upstream.accepted = 'tok-2'
    const before = upstream.requests.length
    const answer = await chat({ authorization: `Bearer ${key}` })
    assert.equal(answer.status, 200, await answer.clone().text())
    assert.match(await answer.text(), /\[DONE\]/)
    const seen = upstream.requests.slice(before)
    assert.deepEqual(seen.map((r) => [r.headers['x-litellm-api-key'], r.status]), [['Bearer tok-1', 401], ['Bearer tok-2', 200]])
    // And the next request goes with the new one at once.
    assert.equal((await chat({ authorization: `Bearer ${key}` })).status, 200)
    assert.equal(upstream.requests.at(-1)!.headers['x-litellm-api-key'], 'Bearer tok-2')
  })

  it('refuses without an upstream call: no key, a wrong key, a foreign Host, CONNECT, an absolute URI, Upgrade, a path outside the prefix or with ..', async () => {
    const before = upstream.requests.length
    assert.equal((await chat({})).status, 401)
    const wrongKey = `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`
    assert.equal((await chat({ authorization: `Bearer ${wrongKey}` })).status, 401)
    assert.equal((await chat({ 'x-api-key': 'sk-not-the-key' })).status, 401)
    const wrongBody = await (await chat({})).text()
    assert.match(wrongBody, /ERR_LOGIN_REQUIRED/)
    assert.ok(!wrongBody.includes(key))
    const raw = (lines: string[]) => rawRequest(port, `${lines.join('\r\n')}\r\n\r\n`)
    assert.match(await raw(['GET /v1/models HTTP/1.1', 'Host: evil.example:80', `Authorization: Bearer ${key}`]), /^HTTP\/1\.1 421/)
    assert.match(await raw(['GET /v1/models HTTP/1.1', `Host: attacker.example:${port}`, `Authorization: Bearer ${key}`]), /^HTTP\/1\.1 421/)
    assert.match(await raw([`CONNECT 127.0.0.1:${upstream.port} HTTP/1.1`, `Host: 127.0.0.1:${upstream.port}`, `Authorization: Bearer ${key}`]), /^HTTP\/1\.1 405/)
    assert.match(await raw([`GET ${upstream.url}/v1/models HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${key}`]), /^HTTP\/1\.1 400/)
    assert.match(await raw(['GET /v1/models HTTP/1.1', `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${key}`, 'Connection: Upgrade', 'Upgrade: websocket']), /^HTTP\/1\.1 405/)
    assert.match(await raw(['GET /admin HTTP/1.1', `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${key}`]), /^HTTP\/1\.1 404/)
    assert.match(await raw(['GET /v1/../admin HTTP/1.1', `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${key}`]), /^HTTP\/1\.1 404/)
    assert.match(await raw(['GET /v1/%2e%2e/admin HTTP/1.1', `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${key}`]), /^HTTP\/1\.1 404/)
    assert.match(await raw(['POST /v1/chat/completions HTTP/1.1', `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${key}`, 'Content-Length: 999999999']), /^HTTP\/1\.1 413/)
    assert.equal(upstream.requests.length, before, 'not one of them reached the upstream')
  })

  it('another Unix user on the machine gets nothing: no key file to read, and loopback without the key is a 401', { skip: process.platform !== 'linux' ? 'Linux only' : process.getuid?.() !== 0 ? 'needs root for useradd' : false }, async () => {
    try { execFileSync('id', ['-u', OTHER_USER], { stdio: 'ignore' }) } catch {
      execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OTHER_USER], { stdio: 'ignore' })
    }
    const uid = Number(execFileSync('id', ['-u', OTHER_USER], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', OTHER_USER], { encoding: 'utf8' }).trim())
    const before = upstream.requests.length
    const probe = `
      const fs = require('node:fs')
      let read = 'read'
      try { fs.readFileSync(process.argv[1]) } catch (e) { read = e.code }
      fetch(process.argv[2] + '/chat/completions', { method: 'POST', body: '{}', headers: { authorization: 'Bearer guess' } })
        .then((r) => console.log(read, r.status), (e) => console.log(read, 'error', e.message))`
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', probe, `${box.stateDir}/relay/gw.key`, baseUrl], { uid, gid, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
      child.on('error', reject)
      child.on('close', () => resolve(out.trim()))
    })
    assert.equal(output, 'EACCES 401')
    assert.equal(upstream.requests.length, before)
  })

  it('relay list shows the route without its key; the daemon log has method, path, status, size and time, never a key or token', async () => {
    const listed = await box.run(['relay', 'list', '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    const routes = (JSON.parse(listed.stdout) as { routes: { name: string; baseUrl: string; requests: number }[] }).routes
    assert.deepEqual(routes.map((r) => [r.name, r.baseUrl]), [['gw', baseUrl]])
    assert.ok(!listed.stdout.includes(key))
    const status = await box.run(['status', '--json'])
    assert.ok(!status.stdout.includes(key))
    const log = box.daemonLog()
    assert.match(log, /ccred relay gw: POST \/v1\/chat\/completions 200 \d+ B \d+ ms/)
    assert.match(log, /retried with a fresh credential/)
    for (const secret of [key, 'tok-1', 'tok-2']) {
      assert.ok(!log.includes(secret), `no ${secret === key ? 'local key' : 'token'} in the daemon log`)
      assert.ok(!box.auditLog().includes(secret), 'nor in the audit log')
    }
  })

  it('relay start again gives the same route (same URL and key); relay stop closes it and removes its files', async () => {
    const again = await box.run(['relay', 'start', 'gw', '--upstream', `${upstream.url}/v1`])
    assert.equal(again.stdout.trim(), baseUrl)
    assert.equal(readFileSync(`${box.stateDir}/relay/gw.key`, 'utf8').trim(), key)
    const stopped = await box.run(['relay', 'stop', 'gw'])
    assert.equal(stopped.code, 0, stopped.stderr)
    await assert.rejects(fetch(`${baseUrl}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}` } }))
    assert.throws(() => statSync(`${box.stateDir}/relay/gw.key`))
    // Opened again after a stop (or a daemon restart): its file is gone, so a new key.
    const reopened = await box.run(['relay', 'start', 'gw', '--upstream', `${upstream.url}/v1`])
    assert.equal(reopened.code, 0, reopened.stderr)
    assert.notEqual(readFileSync(`${box.stateDir}/relay/gw.key`, 'utf8').trim(), key)
    await box.run(['relay', 'stop', 'gw'])
  })

  it('exec --relay: the child gets the base URL and the local key in its client\'s variables, never the token; the route closes when it exits', async () => {
    const before = upstream.requests.length
    const child = `
      const env = process.env
      fetch(env.OPENAI_BASE_URL + '/chat/completions', { method: 'POST', headers: { authorization: 'Bearer ' + env.OPENAI_API_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ stream: true }) })
        .then(async (r) => { const t = await r.text(); console.log(r.status, t.includes('[DONE]'), JSON.stringify(env).includes('tok-')); process.exit(r.status === 200 ? 0 : 1) })`
    const ran = await box.run(['exec', '--relay', 'gw', '--for', 'openai', '--upstream', `${upstream.url}/v1`, '--', process.execPath, '-e', child])
    assert.equal(ran.code, 0, ran.stderr)
    assert.equal(ran.stdout.trim(), '200 true false')
    assert.equal(upstream.requests.length, before + 1)
    assert.match(upstream.requests.at(-1)!.headers['x-litellm-api-key'] as string, /^Bearer tok-\d+$/)
    await waitFor(async () => {
      const listed = JSON.parse((await box.run(['relay', 'list', '--json'])).stdout) as { routes: unknown[] }
      return listed.routes.length === 0
    }, 'the child\'s route to close')
  })

  it('exec --relay needs an upstream: from --upstream or the client\'s base-URL variable', async () => {
    const ran = await box.run(['exec', '--relay', 'gw', '--for', 'gemini', '--', 'true'], { env: { GOOGLE_GEMINI_BASE_URL: undefined } })
    assert.equal(ran.code, 2)
    assert.match(ran.stderr, /no upstream for the relay: give --upstream or set GOOGLE_GEMINI_BASE_URL \[ERR_USAGE\]/)
  })
})

describe('relay: streaming, disconnects and the corporate proxy', () => {
  const cleanups: (() => Promise<void>)[] = []
  after(async () => { for (const cleanup of cleanups) await cleanup() })

  async function route(box: Sandbox, upstream: LlmUpstream): Promise<{ baseUrl: string; key: string }> {
    const script = box.writeScript('token.sh', '#!/bin/sh\necho tok-1\n')
    box.writeConfig(`[profiles.gw]\nsource = "exec"\ncommand = ["${script}"]\n`)
    const started = await box.run(['relay', 'start', 'gw', '--upstream', upstream.url])
    assert.equal(started.code, 0, started.stderr)
    return { baseUrl: started.stdout.trim(), key: readFileSync(`${box.stateDir}/relay/gw.key`, 'utf8').trim() }
  }

  it('events arrive one by one as the upstream sends them, and a client that goes away aborts the upstream answer', async () => {
    const box = new Sandbox()
    const upstream = await startLlmUpstream({ accepted: 'tok-1', eventGapMs: 300 })
    cleanups.push(() => box.cleanup(), () => upstream.close())
    const { baseUrl, key } = await route(box, upstream)
    const firstEvent = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${baseUrl}/stream`, { method: 'POST', headers: { authorization: `Bearer ${key}` } }, (res) => {
        res.setEncoding('utf8').once('data', (chunk: string) => {
          resolve(chunk)
          req.destroy()
        })
      })
      req.on('error', () => undefined)
      req.end('{}')
      setTimeout(() => reject(new Error('no first event')), 10_000).unref()
    })
    // The first of ten events, 300 ms apart, came alone: nothing buffered the stream.
    assert.equal(firstEvent, 'data: {"i":0}\n\n')
    await waitFor(() => upstream.closedEarly === 1, 'the upstream answer to be aborted')
  })

  it('goes through HTTP_PROXY of the daemon\'s environment, with the proxy\'s credentials from its URL', async () => {
    const upstream = await startLlmUpstream({ accepted: 'tok-1' })
    const expected = `Basic ${Buffer.from('corp:proxy-pass').toString('base64')}`
    const proxy = await startForwardProxy({ upstreamPort: upstream.port, requireProxyAuth: (value) => value === expected })
    const box = new Sandbox({ HTTP_PROXY: `http://corp:proxy-pass@127.0.0.1:${proxy.port}` })
    cleanups.push(() => box.cleanup(), () => upstream.close(), () => proxy.close())
    const { baseUrl, key } = await route(box, upstream)
    const answer = await fetch(`${baseUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{"stream":true}' })
    assert.equal(answer.status, 200, await answer.clone().text())
    assert.match(await answer.text(), /\[DONE\]/)
    assert.equal(proxy.requests.length, 1, 'through the proxy')
    assert.equal(proxy.requests[0]!.proxyAuthorization, expected)
    assert.equal(upstream.requests.at(-1)!.headers.authorization, 'Bearer tok-1')
  })
})
