// The real Claude Code with ccred minting JWTs as its apiKeyHelper: the gateway stub verifies
// every token it receives against the JWKS `ccred jwt jwks` printed, served over HTTP.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { JWTPayload } from 'jose'
import { runClaude } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun, helperCommand } from '../helpers/claude-world.js'
import { startGateway } from '../helpers/gateway.js'
import { jwtVerifier, startJwksServer } from '../helpers/jwks-server.js'
import { Sandbox } from '../helpers/sandbox.js'

const CLAUDE_TIMEOUT_MS = 90_000

test('claude + ccred on a jwt profile: the gateway verifies the ES256 token against the published JWKS', { timeout: CLAUDE_TIMEOUT_MS + 30_000 }, async (t) => {
  if (claudeMissing(t)) return
  const sandbox = new Sandbox()
  sandbox.writeConfig(`
[broker]
store = "file"

[profiles.litellm]
source = "jwt"
[profiles.litellm.jwt]
algorithm = "ES256"
key = "keychain:litellm-signing-key"
lifetime = "15m"
claims = { iss = "ccred", aud = "litellm", sub = "\${USER}", team = "engineering" }
`)
  const jwksServer = await startJwksServer()
  const accepted: JWTPayload[] = []
  const gateway = await startGateway({ verify: jwtVerifier({ jwksUrl: jwksServer.url, issuer: 'ccred', audience: 'litellm', accepted }) })
  try {
    const keygen = await sandbox.run(['jwt', 'keygen', 'litellm-signing-key', '--alg', 'ES256'])
    assert.equal(keygen.code, 0, keygen.stderr)
    const jwks = await sandbox.run(['jwt', 'jwks', 'litellm'])
    assert.equal(jwks.code, 0, jwks.stderr)
    jwksServer.publish(JSON.parse(jwks.stdout) as { keys: object[] })

    const run = await runClaude({
      home: sandbox.home,
      settings: { apiKeyHelper: helperCommand(sandbox, 'get litellm') },
      env: claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    const sent = gateway.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/messages'))
    const details = describeRun(run, sandbox, `gateway: ${sent.map((r) => `${r.status} ${r.rejection ?? ''}`).join('; ')}`)
    t.diagnostic(`claude run took ${run.durationMs} ms; ${sent.length} request(s), JWKS fetched ${jwksServer.fetches}×`)
    assert.equal(run.code, 0, details)
    assert.match(run.stdout, /pong/)
    assert.ok(sent.length >= 1, details)
    for (const request of sent) {
      assert.equal(request.status, 200, details)
      assert.equal(request.headers['x-api-key'], request.credential, 'x-api-key carries the same token')
    }
    assert.ok(accepted.length >= 1)
    assert.equal(accepted[0]!.team, 'engineering')
    assert.equal(accepted[0]!.iss, 'ccred')
    assert.ok(accepted[0]!.exp! - accepted[0]!.iat! === 15 * 60)
    assert.ok(jwksServer.fetches >= 1, 'the gateway fetched the JWKS over HTTP')
    const issues = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'litellm' && line.callerPid === run.pid)
    assert.ok(issues.length >= 1, sandbox.auditLog())
    assert.ok(!sandbox.auditLog().includes(sent[0]!.credential!), 'no token in the audit log')
  } finally {
    await gateway.close()
    await jwksServer.close()
    await sandbox.cleanup()
  }
})
