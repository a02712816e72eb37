// A gateway behind a corporate CA: Claude Code trusts it through NODE_EXTRA_CA_CERTS in its
// settings' env, so `ccred doctor` probes with that CA too (directly and through a CONNECT
// proxy), and prints nothing on stderr: no TLS failure, no Node deprecation warning.
// A CA named only by a repository's settings decides nothing without the user's trust.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startForwardProxy, type Proxy } from '../helpers/forward-proxy.js'
import { listenOnLoopback } from '../helpers/listen.js'
import { Sandbox } from '../helpers/sandbox.js'
import { makeTlsCertificates } from '../helpers/vault-fixtures.js'

interface Row { check: string; verdict: string; detail: string }

describe('ccred doctor: the gateway behind a CA named in Claude Code\'s settings', () => {
  const certDir = mkdtempSync(join(tmpdir(), 'ccred-ca-'))
  const certs = makeTlsCertificates(certDir)
  let gateway: https.Server
  let gatewayUrl: string
  let proxy: Proxy
  const boxes: Sandbox[] = []

  before(async () => {
    if (certs === undefined) return
    // Any HTTP answer is "reachable"; a gateway wants a credential first.
    gateway = https.createServer({ key: certs.key, cert: certs.cert }, (_req, res) => { res.writeHead(401).end() })
    const port = await listenOnLoopback(gateway)
    gatewayUrl = `https://127.0.0.1:${port}`
    proxy = await startForwardProxy({ upstreamPort: port, requireProxyAuth: () => true })
  })
  after(async () => {
    for (const box of boxes) await box.cleanup()
    if (certs !== undefined) {
      await proxy.close()
      gateway.closeAllConnections()
      await new Promise<void>((resolve) => gateway.close(() => resolve()))
    }
    rmSync(certDir, { recursive: true, force: true })
  })

  async function doctorWith(settings: { user: Record<string, string>; project?: Record<string, string> }): Promise<{ code: number | null; gateway: Row | undefined; stdout: string; stderr: string }> {
    const box = new Sandbox()
    boxes.push(box)
    mkdirSync(join(box.home, '.claude'), { recursive: true })
    writeFileSync(join(box.home, '.claude', 'settings.json'), JSON.stringify({ env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', ...settings.user } }))
    const project = box.file('checkout')
    mkdirSync(join(project, '.claude'), { recursive: true })
    if (settings.project !== undefined) writeFileSync(join(project, '.claude', 'settings.json'), JSON.stringify({ env: settings.project }))
    const run = await box.run(['doctor', '--json'], { cwd: project })
    return { code: run.code, gateway: (JSON.parse(run.stdout) as { checks: Row[] }).checks.find((c) => c.check === 'gateway'), stdout: run.stdout, stderr: run.stderr }
  }

  it('the CA file named only in ~/.claude/settings.json env: the gateway answers, exit 0, stderr empty', async (t) => {
    if (certs === undefined) return t.skip('the openssl CLI is not available to make a test CA')
    const result = await doctorWith({ user: { ANTHROPIC_BASE_URL: gatewayUrl, NODE_EXTRA_CA_CERTS: certs.caPath } })
    assert.deepEqual(result.gateway, { check: 'gateway', verdict: 'ok', detail: `ANTHROPIC_BASE_URL=${gatewayUrl} (user) answers (HTTP 401, trusting NODE_EXTRA_CA_CERTS=${certs.caPath})` })
    assert.equal(result.code, 0, result.stdout)
    assert.equal(result.stderr, '')
  })

  it('through a CONNECT proxy to a gateway named by IP: the CA is trusted in the tunnel and no deprecation warning is printed', async (t) => {
    if (certs === undefined) return t.skip('the openssl CLI is not available to make a test CA')
    const result = await doctorWith({ user: { ANTHROPIC_BASE_URL: gatewayUrl, HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: certs.caPath } })
    assert.equal(result.gateway?.verdict, 'ok', result.stdout)
    assert.equal(result.gateway?.detail, `ANTHROPIC_BASE_URL=${gatewayUrl} (user) answers through the proxy ${proxy.url} (HTTP 401, trusting NODE_EXTRA_CA_CERTS=${certs.caPath})`)
    assert.ok(proxy.requests.some((r) => r.method === 'CONNECT'), JSON.stringify(proxy.requests))
    assert.equal(result.stderr, '')
  })

  it('a CA named only by the project\'s settings is not trusted without --trust-project: the failure says so', async (t) => {
    if (certs === undefined) return t.skip('the openssl CLI is not available to make a test CA')
    const result = await doctorWith({ user: { ANTHROPIC_BASE_URL: gatewayUrl }, project: { NODE_EXTRA_CA_CERTS: certs.caPath } })
    assert.equal(result.code, 13, result.stdout)
    assert.equal(result.gateway?.verdict, 'fail')
    assert.match(result.gateway!.detail, new RegExp(`^ANTHROPIC_BASE_URL=${gatewayUrl.replace(/\./g, '\\.')} \\(user\\) is unreachable: [A-Z_]+ \\(NODE_EXTRA_CA_CERTS from project settings not trusted: ccred doctor --trust-project uses it\\)$`))
    assert.equal(result.stderr, '')
  })
})
