// The real OpenAI Codex CLI (npm @openai/codex, its native binary) with ccred as its model
// provider's `auth` command, its MCP server's `http_headers_helper` and its OTel
// `headers_helper`, against loopback test servers: a Responses API gateway that verifies
// every bearer (a ccred jwt profile, checked against the JWKS `ccred jwt jwks` printed), an
// MCP server on @modelcontextprotocol/sdk and an OTLP/HTTP collector.
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import type { JWTPayload } from 'jose'
import { shQuote } from '../helpers/claude-world.js'
import { codexConfig, codexMissing, describeCodexRun, runCodex, tomlString } from '../helpers/codex.js'
import { jwtVerifier, startJwksServer, type JwksServer } from '../helpers/jwks-server.js'
import { startMcpServer } from '../helpers/mcp-server.js'
import { startOtlpCollector } from '../helpers/otlp-collector.js'
import { startResponsesServer, type ResponsesServerOptions } from '../helpers/responses-server.js'
import { Sandbox } from '../helpers/sandbox.js'
import { FORCED_BUCKET_CAPACITY } from '../../src/broker/budget.js'

const CODEX_TIMEOUT_MS = 90_000
const TEST_TIMEOUT_MS = 4 * CODEX_TIMEOUT_MS

const JWT_PROFILE = `
[broker]
store = "file"

[profiles.gw]
source = "jwt"
[profiles.gw.jwt]
algorithm = "ES256"
key = "keychain:gw-signing-key"
lifetime = "15m"
claims = { iss = "ccred", aud = "codex-gateway", sub = "\${USER}" }
`

interface World {
  sandbox: Sandbox
  jwks: JwksServer
  accepted: JWTPayload[]
  verify: (token: string) => Promise<string | undefined>
}

/**
 * A sandbox with a jwt profile whose key is made and published the way a user does it
 * (`jwt keygen`, `jwt jwks`). Its runtime directory is its own (CCRED_RUNTIME_DIR), so tests
 * never meet another's daemon; that a helper with Codex's allow-listed environment finds the
 * user's one daemon without it is test/integration/rendezvous.test.ts's.
 */
async function world(t: TestContext): Promise<World> {
  const sandbox = new Sandbox()
  const jwks = await startJwksServer()
  t.after(async () => {
    await sandbox.cleanup()
    await jwks.close()
  })
  sandbox.writeConfig(JWT_PROFILE)
  const keygen = await sandbox.run(['jwt', 'keygen', 'gw-signing-key', '--alg', 'ES256'])
  assert.equal(keygen.code, 0, keygen.stderr)
  const published = await sandbox.run(['jwt', 'jwks', 'gw'])
  assert.equal(published.code, 0, published.stderr)
  jwks.publish(JSON.parse(published.stdout) as { keys: object[] })
  const accepted: JWTPayload[] = []
  return { sandbox, jwks, accepted, verify: jwtVerifier({ jwksUrl: jwks.url, issuer: 'ccred', audience: 'codex-gateway', accepted }) }
}

/** The provider `auth` table as `ccred setup codex` writes it: the CLI exec'd directly, no shell. */
function providerAuth(sandbox: Sandbox, profile: string, refreshIntervalMs = 0): string {
  return [`command = ${tomlString(sandbox.cliPath)}`, `args = ["get", ${tomlString(profile)}]`, 'timeout_ms = 10000', `refresh_interval_ms = ${refreshIntervalMs}`].join('\n')
}

/**
 * Upstream fetches the daemon made for a profile (first fetch, refreshes, re-issues), as its
 * status counts them: the audit log records each request, and requests that joined one
 * in-flight fetch each say "fetch".
 */
async function upstreamFetches(sandbox: Sandbox, profile: string): Promise<number> {
  const status = await sandbox.run(['status', '--json'])
  assert.equal(status.code, 0, status.stderr)
  const found = (JSON.parse(status.stdout) as { profiles: { profile: string; fetches: number }[] }).profiles.find((p) => p.profile === profile)
  assert.ok(found !== undefined, status.stdout)
  return found.fetches
}

function helperRuns(sandbox: Sandbox, profile: string): number {
  return sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === profile).length
}

async function gateway(t: TestContext, w: World, options: Omit<ResponsesServerOptions, 'verify'> = {}) {
  const server = await startResponsesServer({ ...options, verify: w.verify })
  t.after(() => server.close())
  return server
}

describe('codex + ccred as the model provider\'s auth command', { timeout: TEST_TIMEOUT_MS }, () => {
  it('three codex exec runs: every request carries a JWT the gateway verifies, and ccred minted it once', async (t) => {
    if (codexMissing(t)) return
    const w = await world(t)
    const server = await gateway(t, w)
    const config = codexConfig({ baseUrl: server.baseUrl, auth: providerAuth(w.sandbox, 'gw') })
    for (let run = 1; run <= 3; run++) {
      const result = await runCodex(w.sandbox, config, { timeoutMs: CODEX_TIMEOUT_MS })
      const details = describeCodexRun(result, w.sandbox, server.requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.rejection ?? ''}`).join('\n'))
      assert.equal(result.code, 0, details)
      assert.match(result.stdout, /pong/, details)
    }
    assert.equal(server.turns().length, 3)
    for (const request of server.requests) assert.equal(request.status, 200, `${request.method} ${request.path}: ${request.rejection}`)
    assert.equal(new Set(server.requests.map((r) => r.credential)).size, 1, 'one token served every run')
    assert.equal(w.accepted[0]!.aud, 'codex-gateway')
    assert.equal(await upstreamFetches(w.sandbox, 'gw'), 1, w.sandbox.auditLog())
    assert.ok(helperRuns(w.sandbox, 'gw') >= 3, 'Codex ran the helper once per exec at least')
    assert.ok(!w.sandbox.auditLog().includes(server.requests[0]!.credential!), 'no token in the audit log')
  })

  it('the config ccred setup codex writes is one the real Codex runs with: the provider, its auth argv, the default', async (t) => {
    if (codexMissing(t)) return
    const w = await world(t)
    const server = await gateway(t, w)
    const base = codexConfig({ baseUrl: server.baseUrl, providerId: 'unused' }).replace(/^model_provider = .*$/m, '# model_provider is set by ccred setup codex --default')
    mkdirSync(join(w.sandbox.home, '.codex'), { recursive: true, mode: 0o700 })
    writeFileSync(join(w.sandbox.home, '.codex', 'config.toml'), base)
    const setup = await w.sandbox.run(['setup', 'codex', 'gw', '--base-url', server.baseUrl, '--default'], { env: { CODEX_HOME: join(w.sandbox.home, '.codex') } })
    assert.equal(setup.code, 0, setup.stderr)
    const result = await runCodex(w.sandbox, null, { timeoutMs: CODEX_TIMEOUT_MS })
    const details = describeCodexRun(result, w.sandbox, readFileSync(join(w.sandbox.home, '.codex', 'config.toml'), 'utf8'))
    assert.equal(result.code, 0, details)
    assert.match(result.stdout, /pong/, details)
    assert.equal(server.turns().length, 1)
    assert.equal(server.turns()[0]!.status, 200, details)
    assert.equal(w.accepted.at(-1)!.aud, 'codex-gateway')
  })

  it('a 401 on a revoked token: Codex re-runs ccred once and the retried request carries a new token', async (t) => {
    if (codexMissing(t)) return
    const w = await world(t)
    const server = await gateway(t, w, { revokeFirstCredential: true })
    const result = await runCodex(w.sandbox, codexConfig({ baseUrl: server.baseUrl, auth: providerAuth(w.sandbox, 'gw') }), { timeoutMs: CODEX_TIMEOUT_MS })
    const details = describeCodexRun(result, w.sandbox, server.requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.rejection ?? ''}`).join('\n'))
    assert.equal(result.code, 0, details)
    assert.match(result.stdout, /pong/, details)
    const turns = server.turns()
    assert.equal(turns[0]!.status, 401, details)
    const retried = turns.find((turn) => turn.status === 200)
    assert.ok(retried !== undefined, details)
    assert.notEqual(retried.credential, turns[0]!.credential, 'the retry carries a new token')
    assert.equal(await upstreamFetches(w.sandbox, 'gw'), 2, `one first mint and one re-issue\n${details}`)
  })

  it('a gateway that refuses every token: Codex re-runs the helper again and again, ccred mints a bounded few', async (t) => {
    if (codexMissing(t)) return
    const w = await world(t)
    const server = await startResponsesServer({ verify: async () => 'every token is refused' })
    t.after(() => server.close())
    const result = await runCodex(w.sandbox, codexConfig({ baseUrl: server.baseUrl, auth: providerAuth(w.sandbox, 'gw') }), { timeoutMs: CODEX_TIMEOUT_MS })
    const details = describeCodexRun(result, w.sandbox)
    assert.equal(result.code, 1, details)
    assert.match(result.stderr, /401 Unauthorized/, details)
    const runs = helperRuns(w.sandbox, 'gw')
    const fetches = await upstreamFetches(w.sandbox, 'gw')
    t.diagnostic(`${runs} helper runs, ${fetches} upstream fetches`)
    assert.ok(runs >= 5, `Codex re-ran the helper on each 401 (${runs} runs)\n${details}`)
    // The first mint plus re-issues: one per reissue interval (10 s) from the per-profile bucket
    // (capacity FORCED_BUCKET_CAPACITY), never one per run. Codex's 7 runs take about 8 s: 2.
    assert.ok(fetches >= 2 && fetches <= 1 + FORCED_BUCKET_CAPACITY, `${fetches} fetches for ${runs} runs\n${details}`)
    assert.ok(fetches < runs, 'never a fetch per run')
  })
})

describe('codex + ccred for MCP and OTel headers', { timeout: TEST_TIMEOUT_MS }, () => {
  it('http_headers_helper (sh -c, an allow-listed environment): the MCP server gets the bearer from the same daemon', async (t) => {
    if (codexMissing(t)) return
    const w = await world(t)
    const server = await gateway(t, w)
    const mcp = await startMcpServer({ verify: async (token) => (await w.verify(token)) === undefined })
    t.after(() => mcp.close())
    const mcpTable = [
      '[mcp_servers.corp]',
      `url = ${tomlString(mcp.url)}`,
      // Codex passes this helper only HOME, PATH, SHELL, LANG, TERM, PWD and CA variables: the sandbox's own runtime dir goes in the line.
      `http_headers_helper = ${tomlString(`CCRED_RUNTIME_DIR=${shQuote(w.sandbox.runtimeDir)} ${shQuote(w.sandbox.cliPath)} get gw --format headers`)}`,
    ].join('\n')
    const result = await runCodex(w.sandbox, codexConfig({ baseUrl: server.baseUrl, auth: providerAuth(w.sandbox, 'gw'), extra: mcpTable }), { timeoutMs: CODEX_TIMEOUT_MS })
    const details = describeCodexRun(result, w.sandbox, mcp.requests.map((r) => `${r.method} ${r.status}`).join('\n'))
    assert.equal(result.code, 0, details)
    const initialize = mcp.requests.find((r) => r.method === 'initialize')
    assert.ok(initialize !== undefined, `Codex connected to the MCP server\n${details}`)
    assert.equal(initialize.status, 200, details)
    assert.equal(initialize.authorization, `Bearer ${server.requests[0]!.credential}`, 'the MCP helper got the token the provider helper got')
    assert.equal(await upstreamFetches(w.sandbox, 'gw'), 1, `one daemon, one cache for both helpers\n${details}`)
  })

  it('[otel] headers_helper (an executable Codex runs with no arguments): the collector gets the bearer', async (t) => {
    if (codexMissing(t)) return
    const w = await world(t)
    const server = await gateway(t, w)
    const collector = await startOtlpCollector({ verify: async (headers) => (await w.verify(/^Bearer (.*)$/.exec(String(headers.authorization ?? ''))?.[1] ?? '')) === undefined })
    t.after(() => collector.close())
    const helper = join(w.sandbox.home, 'codex-otel-headers')
    writeFileSync(helper, `#!/bin/sh\nexec ${shQuote(w.sandbox.cliPath)} get gw --format headers\n`)
    chmodSync(helper, 0o700)
    const otel = [
      '[otel]',
      `headers_helper = ${tomlString(helper)}`,
      'headers_helper_refresh_interval_ms = 600000',
      '[otel.exporter.otlp-http]',
      `endpoint = ${tomlString(`${collector.url}/v1/logs`)}`,
      'protocol = "json"',
    ].join('\n')
    const result = await runCodex(w.sandbox, codexConfig({ baseUrl: server.baseUrl, auth: providerAuth(w.sandbox, 'gw'), extra: otel }), { timeoutMs: CODEX_TIMEOUT_MS })
    const details = describeCodexRun(result, w.sandbox, collector.exports.map((e) => `${e.signal} ${e.status}`).join('\n'))
    assert.equal(result.code, 0, details)
    assert.ok(collector.accepted('logs').length >= 1, `an accepted log export\n${details}`)
    for (const exported of collector.exports) assert.equal(exported.status, 200, details)
    assert.equal(await upstreamFetches(w.sandbox, 'gw'), 1, details)
  })
})
