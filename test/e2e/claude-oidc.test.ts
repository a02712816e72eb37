// The real Claude Code with ccred on an SSO profile as its apiKeyHelper, after a scripted
// login (headless chromium signs in at a real OpenID Provider on loopback): the gateway stub
// verifies every token it receives against the provider's JWKS.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { JWTPayload } from 'jose'
import { chromiumPath, launchBrowser, loginWithBrowser } from '../helpers/browser.js'
import { runClaude } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun, helperCommand } from '../helpers/claude-world.js'
import { startGateway } from '../helpers/gateway.js'
import { idpTokenVerifier, LOGIN_CLIENT, oidcProfileToml, PUBLIC_CLIENT_ID, startTestProvider } from '../helpers/oidc-provider.js'
import { Sandbox } from '../helpers/sandbox.js'

const CLAUDE_TIMEOUT_MS = 90_000

test('claude + ccred on an oidc profile: the gateway verifies the IdP access token against the IdP JWKS', { timeout: CLAUDE_TIMEOUT_MS + 60_000 }, async (t) => {
  if (claudeMissing(t)) return
  if (chromiumPath() === undefined) {
    console.log('skipping: chromium is not installed (the CI image installs Debian\'s chromium)')
    t.skip('chromium is not installed')
    return
  }
  const provider = await startTestProvider()
  const sandbox = new Sandbox()
  sandbox.writeConfig(`
[broker]
store = "file"
${oidcProfileToml(provider.issuer, 'corp', LOGIN_CLIENT)}`)
  const accepted: JWTPayload[] = []
  const gateway = await startGateway({ verify: idpTokenVerifier(provider, accepted) })
  const browser = await launchBrowser()
  try {
    const login = await loginWithBrowser(sandbox, browser, 'corp', 'erin@example.com')
    assert.equal(login.code, 0, login.stderr)

    const run = await runClaude({
      home: sandbox.home,
      settings: { apiKeyHelper: helperCommand(sandbox, 'get corp') },
      env: claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    const sent = gateway.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/messages'))
    const details = describeRun(run, sandbox, `gateway: ${sent.map((r) => `${r.status} ${r.rejection ?? ''}`).join('; ')}`)
    t.diagnostic(`claude run took ${run.durationMs} ms; ${sent.length} request(s); token endpoint grants: ${provider.grants.join(', ')}`)
    assert.equal(run.code, 0, details)
    assert.match(run.stdout, /pong/)
    assert.ok(sent.length >= 1, details)
    for (const request of sent) assert.equal(request.status, 200, details)
    assert.equal(accepted[0]?.sub, 'erin@example.com')
    assert.equal(accepted[0]?.client_id, PUBLIC_CLIENT_ID)
    assert.ok(provider.grants.includes('refresh_token'), 'the daemon refreshed with the stored refresh token')
    assert.ok(!sandbox.auditLog().includes(sent[0]!.credential!), 'no token in the audit log')
  } finally {
    await browser.close()
    await gateway.close()
    await sandbox.cleanup()
    await provider.close()
  }
})
