// The mode matrix with the real Claude Code: HOME is prepared by `ccred setup claude` itself
// (never by hand), then `claude -p` runs against loopback stubs that verify every ccred JWT
// against the JWKS `ccred jwt jwks` published.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { decodeJwt, type JWTPayload } from 'jose'
import { runClaude, type RunClaudeOptions, type RunClaudeResult } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun } from '../helpers/claude-world.js'
import { startForwardProxy } from '../helpers/forward-proxy.js'
import { startGateway, type Gateway, type RecordedRequest } from '../helpers/gateway.js'
import { jwtVerifier, startJwksServer, type JwksServer } from '../helpers/jwks-server.js'
import { Sandbox } from '../helpers/sandbox.js'

const CLAUDE_TIMEOUT_MS = 90_000
const TEST_TIMEOUT_MS = CLAUDE_TIMEOUT_MS + 60_000

const CONFIG = (extraBroker = '', lifetime = '15m') => `
[broker]
store = "file"
${extraBroker}

[profiles.gw]
source = "jwt"
[profiles.gw.jwt]
algorithm = "ES256"
key = "keychain:gw-key"
lifetime = "${lifetime}"
claims = { iss = "ccred", aud = "gateway", sub = "\${USER}" }

[profiles.gw-proxy]
source = "jwt"
header = "proxy-authorization"
[profiles.gw-proxy.jwt]
algorithm = "ES256"
key = "keychain:gw-key"
lifetime = "${lifetime}"
claims = { iss = "ccred", aud = "gateway", sub = "\${USER}" }
`

interface World {
  sandbox: Sandbox
  gateway: Gateway
  jwks: JwksServer
  accepted: JWTPayload[]
  verify: (token: string) => Promise<string | undefined>
}

/** A sandbox with a signing key, its JWKS served, and a gateway that verifies ccred's JWTs. */
async function withWorld(options: { config?: string; reject?: (token: string) => boolean } | undefined, work: (world: World) => Promise<void>): Promise<void> {
  const sandbox = new Sandbox()
  sandbox.writeConfig(options?.config ?? CONFIG())
  const jwks = await startJwksServer()
  const accepted: JWTPayload[] = []
  const verify = jwtVerifier({ jwksUrl: jwks.url, issuer: 'ccred', audience: 'gateway', accepted })
  const gateway = await startGateway({ verify, ...(options?.reject === undefined ? {} : { rejectValues: options.reject }) })
  try {
    const keygen = await sandbox.run(['jwt', 'keygen', 'gw-key'])
    assert.equal(keygen.code, 0, keygen.stderr)
    const published = await sandbox.run(['jwt', 'jwks', 'gw'])
    assert.equal(published.code, 0, published.stderr)
    jwks.publish(JSON.parse(published.stdout) as { keys: object[] })
    await work({ sandbox, gateway, jwks, accepted, verify })
  } finally {
    await gateway.close()
    await jwks.close()
    await sandbox.cleanup()
  }
}

async function setup(sandbox: Sandbox, args: string[]): Promise<void> {
  const result = await sandbox.run(['setup', 'claude', ...args])
  assert.equal(result.code, 0, `ccred setup claude ${args.join(' ')}: ${result.stderr}`)
}

async function claude(sandbox: Sandbox, env: Record<string, string>, extra: Partial<RunClaudeOptions> = {}): Promise<RunClaudeResult> {
  // No `settings`: Claude Code reads what `ccred setup claude` wrote.
  return runClaude({ home: sandbox.home, env: claudeEnv(sandbox, env), timeoutMs: CLAUDE_TIMEOUT_MS, ...extra })
}

function modelRequests(gateway: Gateway, path: RegExp): RecordedRequest[] {
  return gateway.requests.filter((r) => r.method === 'POST' && path.test(r.path))
}

function summary(requests: RecordedRequest[]): string {
  return requests.map((r) => `${r.method} ${r.path} ${r.status ?? '-'} ${r.rejection ?? ''}`).join('; ')
}

describe('the mode matrix: ccred setup claude, then the real Claude Code', () => {
  test('anthropic mode: Authorization: Bearer <jwt> and X-Api-Key: <jwt> on /v1/messages', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    if (claudeMissing(t)) return
    await withWorld(undefined, async ({ sandbox, gateway, accepted }) => {
      await setup(sandbox, ['gw', '--gateway', gateway.url])
      const run = await claude(sandbox, {})
      const sent = modelRequests(gateway, /^\/v1\/messages/)
      assert.equal(run.code, 0, describeRun(run, sandbox, summary(gateway.requests)))
      assert.match(run.stdout, /pong/)
      assert.ok(sent.length >= 1)
      for (const request of sent) {
        assert.equal(request.status, 200, summary(sent))
        assert.equal(request.headers['authorization'], `Bearer ${request.credential}`)
        assert.equal(request.headers['x-api-key'], request.credential)
      }
      assert.equal(accepted[0]!.aud, 'gateway')
    })
  })

  test('bedrock mode with SKIP_BEDROCK_AUTH: Authorization: Bearer <jwt> on /model/<id>/invoke-with-response-stream', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    if (claudeMissing(t)) return
    await withWorld(undefined, async ({ sandbox, gateway }) => {
      await setup(sandbox, ['gw', '--mode', 'bedrock', '--gateway', `${gateway.url}/bedrock`])
      const run = await claude(sandbox, { AWS_REGION: 'us-east-1' })
      const sent = modelRequests(gateway, /^\/bedrock\/model\/[^/]+\/invoke/)
      assert.ok(sent.length >= 1, describeRun(run, sandbox, summary(gateway.requests)))
      assert.ok(sent.some((r) => /invoke-with-response-stream$/.test(r.path)), summary(sent))
      for (const request of sent) {
        assert.equal(request.status, 200, summary(sent))
        assert.match(String(request.headers['authorization']), /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
      }
      assert.equal(run.code, 0, describeRun(run, sandbox, summary(gateway.requests)))
      assert.match(run.stdout, /pong/)
    })
  })

  test('vertex mode with SKIP_VERTEX_AUTH: Authorization: Bearer <jwt> on …:streamRawPredict', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    if (claudeMissing(t)) return
    await withWorld(undefined, async ({ sandbox, gateway }) => {
      await setup(sandbox, ['gw', '--mode', 'vertex', '--gateway', `${gateway.url}/vertex_ai/v1`, '--project', 'test-project', '--region', 'us-east5'])
      const run = await claude(sandbox, {})
      const sent = modelRequests(gateway, /:(streamRawPredict|rawPredict)$/)
      assert.ok(sent.length >= 1, describeRun(run, sandbox, summary(gateway.requests)))
      for (const request of sent) {
        assert.match(request.path, /^\/vertex_ai\/v1\/projects\/test-project\/locations\/us-east5\/publishers\/anthropic\/models\/[^/]+:(streamRawPredict|rawPredict)$/)
        assert.equal(request.status, 200, summary(sent))
        assert.match(String(request.headers['authorization']), /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/)
      }
      assert.equal(run.code, 0, describeRun(run, sandbox, summary(gateway.requests)))
      assert.match(run.stdout, /pong/)
    })
  })

  test('a proxy-authorization profile: Proxy-Authorization: Bearer <jwt> on the forward-proxy hop', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    if (claudeMissing(t)) return
    await withWorld(undefined, async ({ sandbox, gateway, verify }) => {
      const proxy = await startForwardProxy({ upstreamPort: gateway.port, requireProxyAuth: (value) => value !== undefined && /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(value) })
      try {
        // The gateway key rides in Authorization (gw), the proxy's in Proxy-Authorization (gw-proxy).
        await setup(sandbox, ['gw', '--gateway', `http://gateway.test:${gateway.port}`])
        await setup(sandbox, ['gw-proxy', '--proxy', proxy.url])
        const run = await claude(sandbox, { HTTP_PROXY: proxy.url, NO_PROXY: '' })
        const viaProxy = proxy.requests.filter((r) => r.url.includes('/v1/messages'))
        const details = describeRun(run, sandbox, `proxy: ${viaProxy.map((r) => `${r.status} ${r.proxyAuthorization?.slice(0, 20)}`).join('; ')}`)
        assert.equal(run.code, 0, details)
        assert.ok(viaProxy.length >= 1, details)
        for (const request of viaProxy) {
          assert.equal(request.status, 200, details)
          const token = request.proxyAuthorization!.slice('Bearer '.length)
          assert.equal(await verify(token), undefined, 'the proxy token is a ccred JWT the JWKS verifies')
        }
        for (const request of modelRequests(gateway, /^\/v1\/messages/)) assert.equal(request.headers['proxy-authorization'], undefined)
      } finally {
        await proxy.close()
      }
    })
  })

  test('a short helper TTL: between prompts Claude Code re-runs the helper and uses the new token; none it sends has expired', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    if (claudeMissing(t)) return
    // skew 27s on 30-second tokens (the shortest a JWT profile allows): a token serves a caller for
    // its first 3 s, and setup sizes the helper TTL from that (1 s). The prompts are 16 s apart, so
    // the last one comes after the first token has expired: "none has expired" can fail (real time:
    // this is Claude Code's own clock, which a test cannot inject).
    await withWorld({ config: CONFIG('skew = "27s"', '30s') }, async ({ sandbox, gateway }) => {
      await setup(sandbox, ['gw', '--gateway', gateway.url])
      const settings = JSON.parse(readFileSync(join(sandbox.home, '.claude', 'settings.json'), 'utf8')) as { env: Record<string, string> }
      assert.equal(settings.env.CLAUDE_CODE_API_KEY_HELPER_TTL_MS, '1000', 'setup sized the TTL from the lifetime')
      const run = await claude(sandbox, {}, { conversation: { prompts: ['ping', 'ping again', 'and again'], gapMs: 16_000 } })
      const sent = modelRequests(gateway, /^\/v1\/messages/)
      assert.equal(run.code, 0, describeRun(run, sandbox, summary(sent)))
      assert.ok(sent.length >= 3, summary(sent))
      for (const request of sent) assert.equal(request.status, 200, `a request carried a token the gateway refused: ${request.rejection}`)
      const tokens = sent.map((r) => r.credential!)
      assert.ok(new Set(tokens).size >= 2, 'a later prompt carried a new token')
      const firstExpiryMs = decodeJwt(tokens[0]!).exp! * 1000
      assert.ok(sent.some((request) => request.at > firstExpiryMs), `the run outlived the first token (expired at ${new Date(firstExpiryMs).toISOString()}), so an expired token could have been sent: ${summary(sent)}`)
      for (const request of sent) {
        const { exp } = decodeJwt(request.credential!)
        assert.ok(exp! * 1000 > request.at, 'never a token that had expired')
      }
      const runs = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'gw' && line.callerPid === run.pid)
      assert.ok(runs.length >= 2, `the helper ran ${runs.length}×`)
    })
  })

  test('a 401 on the first token: the retry carries a new one', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    if (claudeMissing(t)) return
    let first: string | undefined
    const reject = (token: string) => {
      first ??= token
      return token === first
    }
    await withWorld({ reject }, async ({ sandbox, gateway }) => {
      await setup(sandbox, ['gw', '--gateway', gateway.url])
      const run = await claude(sandbox, {})
      const sent = modelRequests(gateway, /^\/v1\/messages/)
      assert.equal(run.code, 0, describeRun(run, sandbox, summary(sent)))
      assert.ok(sent.length >= 2, summary(sent))
      assert.equal(sent[0]!.status, 401)
      assert.equal(sent.at(-1)!.status, 200)
      assert.notEqual(sent.at(-1)!.credential, first)
      const served = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'gw' && line.callerPid === run.pid).map((line) => line.served)
      assert.ok(served.includes('reissue'), sandbox.auditLog())
    })
  })
})
