// The real Claude Code calling a tool on a real MCP server (official SDK, Streamable HTTP)
// whose bearer comes from a `headersHelper`, and Claude Code's OTLP exporter sending with an
// `otelHeadersHelper`'s headers. The stub gateway scripts the model: it asks for the MCP tool
// (`mcp__<server>__ccred_echo`) and answers in text once the tool_result is back.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { runClaude, type RunClaudeResult } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun, shQuote } from '../helpers/claude-world.js'
import { startGateway, type Gateway } from '../helpers/gateway.js'
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
