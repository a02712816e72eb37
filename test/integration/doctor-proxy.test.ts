// `ccred doctor` probes the gateway the way Claude Code reaches it: through the proxy its
// settings name, with the value its proxyAuthHelper prints. A dead proxy and a 407 are
// failures (exit 13), never "no problems" while Claude Code would hang or be refused.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startForwardProxy, type Proxy } from '../helpers/forward-proxy.js'
import { startGateway, type Gateway } from '../helpers/gateway.js'
import { Sandbox } from '../helpers/sandbox.js'

const GOOD = 'Bearer proxy-good-4f1c9a'
const BAD = 'Bearer proxy-bad-77d0e2'

function writeClaudeSettings(box: Sandbox, settings: object): void {
  mkdirSync(join(box.home, '.claude'), { recursive: true })
  writeFileSync(join(box.home, '.claude', 'settings.json'), JSON.stringify(settings, null, 2))
}

/** The helper is a script, as in real life: the settings name it, never the value it prints. */
function proxied(box: Sandbox, proxyUrl: string, helperValue: string): object {
  const helper = box.writeScript('proxy-helper.sh', `#!/bin/sh\nprintf '%s' '${helperValue}'\n`)
  return {
    proxyAuthHelper: helper,
    env: {
      // gateway.test resolves nowhere: only the proxy (which sends everything to the stub) reaches it.
      ANTHROPIC_BASE_URL: 'http://gateway.test:8080',
      HTTP_PROXY: proxyUrl,
      CLAUDE_CODE_ENABLE_PROXY_AUTH_HELPER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
  }
}

describe('ccred doctor: the gateway probe goes through the proxy', () => {
  let gateway: Gateway
  let proxy: Proxy
  /** A proxy that accepts and drops every connection at once: dead, deterministically. */
  let deadProxy: Server
  let deadProxyUrl: string
  const boxes: Sandbox[] = []
  const sandbox = () => {
    const box = new Sandbox()
    boxes.push(box)
    return box
  }

  before(async () => {
    gateway = await startGateway()
    proxy = await startForwardProxy({ upstreamPort: Number(new URL(gateway.url).port), requireProxyAuth: (value) => value === GOOD })
    deadProxy = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => deadProxy.listen(0, '127.0.0.1', resolve))
    deadProxyUrl = `http://127.0.0.1:${(deadProxy.address() as { port: number }).port}`
  })
  after(async () => {
    for (const box of boxes) await box.cleanup()
    await proxy.close()
    await gateway.close()
    await new Promise<void>((resolve) => deadProxy.close(() => resolve()))
  })

  it('the proxyAuthHelper value the proxy accepts: ok, and the proxy saw that value', async () => {
    const box = sandbox()
    writeClaudeSettings(box, proxied(box, proxy.url, GOOD))
    const doctor = await box.run(['doctor', '--json'])
    const gatewayCheck = (JSON.parse(doctor.stdout) as { checks: { check: string; verdict: string; detail: string }[] }).checks.find((c) => c.check === 'gateway')
    assert.equal(gatewayCheck?.verdict, 'ok', doctor.stdout)
    assert.match(gatewayCheck!.detail, /answers through the proxy http:\/\/127\.0\.0\.1:\d+ with the proxyAuthHelper value \(HTTP \d{3}\)/)
    assert.ok(proxy.requests.some((r) => r.proxyAuthorization === GOOD && r.url.startsWith('http://gateway.test:8080')), JSON.stringify(proxy.requests))
    assert.ok(!doctor.stdout.includes(GOOD) && !doctor.stderr.includes(GOOD), 'the proxy credential is never shown')
  })

  it('a value the proxy refuses: the 407 is a failure, exit 13', async () => {
    const box = sandbox()
    writeClaudeSettings(box, proxied(box, proxy.url, BAD))
    const doctor = await box.run(['doctor'])
    assert.equal(doctor.code, 13, doctor.stdout + doctor.stderr)
    assert.match(doctor.stdout, /^gateway +FAIL +the proxy http:\/\/127\.0\.0\.1:\d+ for ANTHROPIC_BASE_URL=http:\/\/gateway\.test:8080 answered 407 Proxy Authentication Required to the proxyAuthHelper value/m)
    assert.ok(!doctor.stdout.includes(BAD) && !doctor.stderr.includes(BAD), 'the proxy credential is never shown')
  })

  it('a dead proxy: a failure naming the proxy, exit 13 (a direct probe would have said ok)', async () => {
    const box = sandbox()
    const settings = proxied(box, deadProxyUrl, GOOD) as { env: Record<string, string> }
    settings.env.ANTHROPIC_BASE_URL = gateway.url
    writeClaudeSettings(box, settings)
    const doctor = await box.run(['doctor'])
    assert.equal(doctor.code, 13, doctor.stdout + doctor.stderr)
    assert.match(doctor.stdout, /^gateway +FAIL +the proxy http:\/\/127\.0\.0\.1:\d+ for ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+ is unreachable: /m)
  })

  it('NO_PROXY for the gateway host: probed directly', async () => {
    const box = sandbox()
    const settings = proxied(box, deadProxyUrl, GOOD) as { env: Record<string, string> }
    settings.env.ANTHROPIC_BASE_URL = gateway.url
    settings.env.NO_PROXY = '127.0.0.1'
    writeClaudeSettings(box, settings)
    const doctor = await box.run(['doctor'])
    assert.match(doctor.stdout, /^gateway +ok +ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+ \(user\) answers \(HTTP \d{3}\)/m)
  })
})
