// The real Claude Code calling a tool on a real MCP server (official SDK, Streamable HTTP)
// whose bearer comes from a `headersHelper`, and Claude Code's OTLP exporter sending with an
// `otelHeadersHelper`'s headers. The stub gateway scripts the model: it asks for the MCP tool
// (`mcp__<server>__ccred_echo`) and answers in text once the tool_result is back.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { JWTPayload } from 'jose'
import { runClaude, type RunClaudeResult } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun, helperCommand, shQuote } from '../helpers/claude-world.js'
import { startGateway, type Gateway } from '../helpers/gateway.js'
import { jwtVerifier, startJwksServer, type JwksServer } from '../helpers/jwks-server.js'
import { startMcpServer, type McpTestServer } from '../helpers/mcp-server.js'
import { startOtlpCollector } from '../helpers/otlp-collector.js'
import { Sandbox } from '../helpers/sandbox.js'

const CLAUDE_TIMEOUT_MS = 90_000
const SERVER = 'ccredtest'
const TOOL = `mcp__${SERVER}__ccred_echo`

/** Claude Code's user-scope config (~/.claude.json) with one remote MCP server. */
function writeUserMcpServer(home: string, url: string, headersHelper: string): void {
  const path = join(home, '.claude.json')
  let config: Record<string, unknown> = {}
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
  } catch {
    // first write
  }
  config.mcpServers = { [SERVER]: { type: 'http', url, headersHelper } }
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n')
}

/** The MCP-specific part of a run: tool search off (MCP tools in the first request), the tool allowed. */
function mcpRunArgs(): string[] {
  return ['--allowedTools', TOOL]
}

function mcpEnv(sandbox: Sandbox, gateway: Gateway, extra: Record<string, string> = {}): Record<string, string> {
  return claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url, ANTHROPIC_AUTH_TOKEN: 'gateway-key', ENABLE_TOOL_SEARCH: 'false', ...extra })
}

function describeMcp(run: RunClaudeResult, sandbox: Sandbox, gateway: Gateway, mcp: McpTestServer): string {
  return describeRun(run, sandbox, [
    `gateway tool calls: ${gateway.toolCalls.join(', ') || '(none)'}; tool results: ${gateway.toolResults.join(' | ') || '(none)'}`,
    `mcp requests: ${mcp.requests.map((r) => `${r.method}=${r.status}${r.authorization === undefined ? ' (no authorization)' : ''}`).join(', ')}`,
  ].join('\n'))
}

test('harness: a plain script as headersHelper; Claude Code calls the MCP tool with its header', { timeout: CLAUDE_TIMEOUT_MS + 30_000 }, async (t) => {
  if (claudeMissing(t)) return
  const sandbox = new Sandbox()
  const gateway = await startGateway({ callToolEndingWith: 'ccred_echo', replyText: 'done' })
  const mcp = await startMcpServer({ verify: (token) => token === 'plain-script-token' })
  try {
    const helper = sandbox.writeScript('headers.sh', `#!/bin/sh\nprintf '{"Authorization": "Bearer plain-script-token"}\\n'\n`)
    writeUserMcpServer(sandbox.home, mcp.url, shQuote(helper))
    const run = await runClaude({ home: sandbox.home, settings: {}, env: mcpEnv(sandbox, gateway), args: mcpRunArgs(), timeoutMs: CLAUDE_TIMEOUT_MS })
    const details = describeMcp(run, sandbox, gateway, mcp)
    assert.equal(run.code, 0, details)
    assert.deepEqual(gateway.toolCalls, [TOOL], details)
    assert.deepEqual(mcp.toolCallBearers, ['plain-script-token'], details)
    assert.ok(gateway.toolResults.some((text) => text.includes('mcp-pong')), details)
  } finally {
    await gateway.close()
    await mcp.close()
    await sandbox.cleanup()
  }
})

/** Claude Code's OTLP exporter, over http/json, to `collectorUrl`, exporting often. */
function otelEnv(collectorUrl: string): Record<string, string> {
  return {
    CLAUDE_CODE_ENABLE_TELEMETRY: '1',
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_LOGS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
    OTEL_METRIC_EXPORT_INTERVAL: '1000',
    OTEL_LOGS_EXPORT_INTERVAL: '500',
  }
}

test('harness: a plain script as otelHeadersHelper; the OTLP exporter sends metrics and logs with its header', { timeout: CLAUDE_TIMEOUT_MS + 30_000 }, async (t) => {
  if (claudeMissing(t)) return
  const sandbox = new Sandbox()
  const gateway = await startGateway()
  const collector = await startOtlpCollector({ verify: (headers) => headers.authorization === 'Bearer otel-script-token' })
  try {
    const helper = sandbox.writeScript('otel-headers.sh', `#!/bin/sh\nprintf '{"Authorization": "Bearer otel-script-token"}\\n'\n`)
    const run = await runClaude({
      home: sandbox.home,
      settings: { otelHeadersHelper: shQuote(helper) },
      env: claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url, ANTHROPIC_AUTH_TOKEN: 'gateway-key', ...otelEnv(collector.url) }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    const details = describeRun(run, sandbox, `collector: ${collector.exports.map((e) => `${e.signal}=${e.status}`).join(', ')}`)
    assert.equal(run.code, 0, details)
    assert.ok(collector.accepted('metrics').length >= 1, details)
    assert.ok(collector.accepted('logs').length >= 1, details)
    assert.ok(collector.exports.every((e) => e.status === 200), details)
  } finally {
    await gateway.close()
    await collector.close()
    await sandbox.cleanup()
  }
})

const JWT_PROFILE_CONFIG = `
[broker]
store = "file"

[profiles.mcp-jwt]
source = "jwt"
[profiles.mcp-jwt.jwt]
algorithm = "ES256"
key = "keychain:mcp-signing-key"
lifetime = "1h"
claims = { iss = "ccred", aud = "mcp-server", sub = "\${USER}" }
`

/** A sandbox with the jwt profile, its key, and a JWKS server publishing the public key. */
async function jwtWorld(): Promise<{ sandbox: Sandbox; jwks: JwksServer; verify: (token: string) => Promise<boolean>; accepted: JWTPayload[] }> {
  const sandbox = new Sandbox()
  sandbox.writeConfig(JWT_PROFILE_CONFIG)
  const jwks = await startJwksServer()
  const keygen = await sandbox.run(['jwt', 'keygen', 'mcp-signing-key', '--alg', 'ES256'])
  assert.equal(keygen.code, 0, keygen.stderr)
  const published = await sandbox.run(['jwt', 'jwks', 'mcp-jwt'])
  assert.equal(published.code, 0, published.stderr)
  jwks.publish(JSON.parse(published.stdout) as { keys: object[] })
  // The user's daemon runs (a login service): `claude -p` does not wait for a helper, and a
  // run that also starts the daemon can take long enough to lose the server's tools.
  const started = await sandbox.run(['daemon', 'start'])
  assert.equal(started.code, 0, started.stderr)
  const accepted: JWTPayload[] = []
  const check = jwtVerifier({ jwksUrl: jwks.url, issuer: 'ccred', audience: 'mcp-server', accepted })
  return { sandbox, jwks, accepted, verify: async (token) => (await check(token)) === undefined }
}

/** How many times the daemon fetched the profile upstream (minted, here), from ccred status. */
async function upstreamFetches(sandbox: Sandbox, profile: string): Promise<number> {
  const status = await sandbox.run(['status', '--json'])
  assert.equal(status.code, 0, status.stderr)
  const found = (JSON.parse(status.stdout) as { profiles: { profile: string; fetches: number }[] }).profiles.find((p) => p.profile === profile)
  return found?.fetches ?? 0
}

test('claude + ccred as an MCP headersHelper: N connections call the tool with a JWT verified against the JWKS, after 1 upstream fetch', { timeout: 4 * CLAUDE_TIMEOUT_MS }, async (t) => {
  if (claudeMissing(t)) return
  const { sandbox, jwks, verify, accepted } = await jwtWorld()
  const gateway = await startGateway({ callToolEndingWith: 'ccred_echo', replyText: 'done' })
  const mcp = await startMcpServer({ verify })
  const CONNECTIONS = 3
  try {
    writeUserMcpServer(sandbox.home, mcp.url, helperCommand(sandbox, 'get mcp-jwt --format headers'))
    // Warm the profile first, as a user's daemon is: `claude -p` does not wait for a slow
    // headersHelper, so a first run whose helper mints cold (loading the signer, reading the
    // key) on a loaded machine loses the server's tools. This test is about N connections
    // sharing one value, not about cold-start speed; the warm-up is the one upstream fetch.
    const warm = await sandbox.run(['get', 'mcp-jwt', '--format', 'headers'])
    assert.equal(warm.code, 0, warm.stderr)
    const runs: RunClaudeResult[] = []
    for (let i = 0; i < CONNECTIONS; i++) {
      const run = await runClaude({ home: sandbox.home, settings: {}, env: mcpEnv(sandbox, gateway), args: mcpRunArgs(), timeoutMs: CLAUDE_TIMEOUT_MS })
      runs.push(run)
      assert.equal(run.code, 0, describeMcp(run, sandbox, gateway, mcp))
    }
    const details = describeMcp(runs.at(-1)!, sandbox, gateway, mcp)
    assert.equal(gateway.toolCalls.length, CONNECTIONS, details)
    assert.equal(mcp.toolCallBearers.length, CONNECTIONS, details)
    assert.equal(gateway.toolResults.filter((text) => text.includes('mcp-pong')).length, CONNECTIONS, details)
    assert.ok(accepted.length >= CONNECTIONS, details)
    assert.equal(accepted[0]!.aud, 'mcp-server')
    assert.ok(jwks.fetches >= 1)
    // Every request of every connection carried a verified token (the server 401s anything else).
    assert.ok(mcp.requests.every((r) => r.status !== 401), details)
    const fetches = await upstreamFetches(sandbox, 'mcp-jwt')
    t.diagnostic(`${CONNECTIONS} MCP connections (separate claude -p runs): ${fetches} upstream fetch(es), ${new Set(mcp.toolCallBearers).size} distinct token(s)`)
    assert.equal(fetches, 1, details)
    assert.equal(new Set(mcp.toolCallBearers).size, 1)
    const issues = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'mcp-jwt')
    assert.ok(runs.every((run) => issues.some((line) => line.callerPid === run.pid)), `each claude process is the caller\n${sandbox.auditLog()}`)
    assert.ok(!sandbox.auditLog().includes(mcp.toolCallBearers[0]!), 'no token in the audit log')
  } finally {
    await gateway.close()
    await mcp.close()
    await jwks.close()
    await sandbox.cleanup()
  }
})

test('claude + ccred as an MCP headersHelper: a 401 on tools/call re-runs the helper, which gets a NEW token for the retry', { timeout: CLAUDE_TIMEOUT_MS + 30_000 }, async (t) => {
  if (claudeMissing(t)) return
  const { sandbox, jwks, verify } = await jwtWorld()
  const gateway = await startGateway({ callToolEndingWith: 'ccred_echo', replyText: 'done' })
  const mcp = await startMcpServer({ verify })
  try {
    writeUserMcpServer(sandbox.home, mcp.url, helperCommand(sandbox, 'get mcp-jwt --format headers'))
    mcp.rejectNextToolCall()
    const run = await runClaude({ home: sandbox.home, settings: {}, env: mcpEnv(sandbox, gateway), args: mcpRunArgs(), timeoutMs: CLAUDE_TIMEOUT_MS })
    const details = describeMcp(run, sandbox, gateway, mcp)
    assert.equal(run.code, 0, details)
    const refused = mcp.requests.filter((r) => r.method === 'tools/call' && r.status === 401)
    assert.equal(refused.length, 1, details)
    assert.equal(mcp.toolCallBearers.length, 1, `the retried call went through\n${details}`)
    const refusedToken = refused[0]!.authorization!.slice('Bearer '.length)
    assert.notEqual(mcp.toolCallBearers[0], refusedToken, `the retry carried a new token\n${details}`)
    assert.ok(gateway.toolResults.some((text) => text.includes('mcp-pong')), details)
    const served = sandbox.auditLines().filter((line) => line.event === 'issue' && line.profile === 'mcp-jwt' && line.callerPid === run.pid).map((line) => line.served)
    assert.deepEqual(served, ['fetch', 'reissue'], sandbox.auditLog())
  } finally {
    await gateway.close()
    await mcp.close()
    await jwks.close()
    await sandbox.cleanup()
  }
})

test('claude + ccred in a project .mcp.json: the helper runs without credential-looking variables and still gets its token from the daemon', { timeout: CLAUDE_TIMEOUT_MS + 30_000 }, async (t) => {
  if (claudeMissing(t)) return
  const { sandbox, jwks, verify } = await jwtWorld()
  const gateway = await startGateway({ callToolEndingWith: 'ccred_echo', replyText: 'done' })
  const mcp = await startMcpServer({ verify })
  try {
    const project = sandbox.file('project')
    mkdirSync(project, { recursive: true })
    // The helper records its environment, then runs ccred as a headersHelper would.
    const envDump = sandbox.file('helper-env')
    const helper = sandbox.writeScript('mcp-helper.sh', `#!/bin/sh\nenv > ${shQuote(envDump)}\nexec ${helperCommand(sandbox, 'get mcp-jwt --format headers')}\n`)
    writeFileSync(join(project, '.mcp.json'), JSON.stringify({ mcpServers: { [SERVER]: { type: 'http', url: mcp.url, headersHelper: shQuote(helper) } } }, null, 2))
    // A project server runs only in a trusted workspace, once approved (what the trust and approval prompts record).
    writeFileSync(join(sandbox.home, '.claude.json'), JSON.stringify({ projects: { [project]: { hasTrustDialogAccepted: true, enabledMcpjsonServers: [SERVER] } } }, null, 2))
    // The runtime directory as a user has it: from XDG_RUNTIME_DIR (no CCRED_RUNTIME_DIR), which Claude Code keeps.
    const xdgRuntimeDir = sandbox.file('xdg-run')
    mkdirSync(xdgRuntimeDir, { mode: 0o700 })
    const env = mcpEnv(sandbox, gateway, { CCRED_PROBE_TOKEN: 'must-not-reach-the-helper', SERVICE_SECRET: 'nor-this', XDG_RUNTIME_DIR: xdgRuntimeDir })
    delete env.CCRED_RUNTIME_DIR
    // The user's daemon runs (a login service): -p does not wait for a slow helper, and a cold start can lose the tools.
    const started = await sandbox.run(['daemon', 'start'], { env: { CCRED_RUNTIME_DIR: undefined, XDG_RUNTIME_DIR: xdgRuntimeDir } })
    assert.equal(started.code, 0, started.stderr)
    const run = await runClaude({ home: sandbox.home, cwd: project, settings: {}, env, args: mcpRunArgs(), timeoutMs: CLAUDE_TIMEOUT_MS })
    const details = describeMcp(run, sandbox, gateway, mcp)
    assert.equal(run.code, 0, details)
    assert.deepEqual(gateway.toolCalls, [TOOL], details)
    const helperEnv = readFileSync(envDump, 'utf8')
    assert.match(helperEnv, /^CLAUDE_CODE_MCP_SERVER_NAME=ccredtest$/m, 'the helper ran as the project server\'s headersHelper')
    assert.doesNotMatch(helperEnv, /CCRED_PROBE_TOKEN|SERVICE_SECRET/, 'Claude Code removed the credential-looking variables')
    assert.match(helperEnv, /^HOME=/m)
    assert.match(helperEnv, /^XDG_RUNTIME_DIR=/m, 'XDG_RUNTIME_DIR stays: ccred finds its daemon there')
    assert.deepEqual(gateway.toolCalls, [TOOL], details)
    assert.equal(mcp.toolCallBearers.length, 1, details)
  } finally {
    // Stopped while its runtime directory (inside the sandbox) still exists: after cleanup
    // removed it, `daemon stop` found no daemon and one was left running per test run.
    await sandbox.run(['daemon', 'stop'], { env: { CCRED_RUNTIME_DIR: undefined, XDG_RUNTIME_DIR: sandbox.file('xdg-run') } })
    await gateway.close()
    await mcp.close()
    await jwks.close()
    await sandbox.cleanup()
  }
})

test('claude + ccred as otelHeadersHelper: metrics and logs reach the OTLP collector with the profile\'s headers', { timeout: CLAUDE_TIMEOUT_MS + 30_000 }, async (t) => {
  if (claudeMissing(t)) return
  const sandbox = new Sandbox()
  sandbox.writeConfig(`
[profiles.otel]
source = "static"
value = "env:OTEL_COLLECTOR_KEY"
headers = { Authorization = "Bearer \${token}", "X-Scope-OrgID" = "team-a" }
`)
  const gateway = await startGateway()
  const collector = await startOtlpCollector({ verify: (headers) => headers.authorization === 'Bearer collector-key-1' && headers['x-scope-orgid'] === 'team-a' })
  try {
    const run = await runClaude({
      home: sandbox.home,
      settings: { otelHeadersHelper: helperCommand(sandbox, 'get otel --format headers') },
      env: claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url, ANTHROPIC_AUTH_TOKEN: 'gateway-key', OTEL_COLLECTOR_KEY: 'collector-key-1', ...otelEnv(collector.url) }),
      timeoutMs: CLAUDE_TIMEOUT_MS,
    })
    const details = describeRun(run, sandbox, `collector: ${collector.exports.map((e) => `${e.signal}=${e.status}`).join(', ')}`)
    assert.equal(run.code, 0, details)
    assert.ok(collector.accepted('metrics').length >= 1, details)
    assert.ok(collector.accepted('logs').length >= 1, details)
    assert.ok(collector.exports.every((e) => e.status === 200), details)
    assert.doesNotMatch(run.stderr, /otelHeadersHelper failed/)
    assert.ok(!sandbox.auditLog().includes('collector-key-1'))
  } finally {
    await gateway.close()
    await collector.close()
    await sandbox.cleanup()
  }
})
