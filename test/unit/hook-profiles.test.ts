import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { hookProfileUses, longestTtlUse, type HookSources } from '../../src/doctor/hook-profiles.js'
import type { McpScope, McpServerEntry } from '../../src/setup/claude-hooks.js'

/** Claude Code's merged settings as plain data: one layer per scope, highest last. */
function settings(layers: { scope: 'user' | 'project' | 'local'; settings: Record<string, unknown> }[]): HookSources['claude'] {
  const highestFirst = [...layers].reverse()
  return {
    value: (key) => {
      const layer = highestFirst.find((l) => l.settings[key] !== undefined)
      return layer === undefined ? undefined : { value: layer.settings[key], scope: layer.scope }
    },
    env: (name) => {
      const layer = highestFirst.find((l) => typeof (l.settings.env as Record<string, unknown> | undefined)?.[name] === 'string')
      return layer === undefined ? undefined : { value: (layer.settings.env as Record<string, string>)[name]!, scope: layer.scope }
    },
  }
}

const servers = (entries: Record<string, McpServerEntry>) => new Map(Object.entries(entries))

describe('doctor: which profiles the hooks use', () => {
  it('names each hook that runs ccred, with the TTL the agent keeps its value for', () => {
    const mcp = new Map<McpScope, Map<string, McpServerEntry>>([
      ['user', servers({
        docs: { type: 'http', url: 'https://mcp.example/mcp', headersHelper: "'/usr/bin/node' '/opt/ccred/dist/cmd/ccred.cjs' get mcp-docs --format headers" },
        // A stdio server: Claude Code runs no headersHelper for it.
        local: { command: 'x', headersHelper: 'ccred get stdio-only --format headers' },
        other: { type: 'http', url: 'https://other.example', headersHelper: 'vault-helper --json' },
      })],
      ['project', servers({ team: { type: 'sse', url: 'https://team.example/sse', headersHelper: 'ccred get team-mcp --format headers' } })],
    ])
    const uses = hookProfileUses({
      claude: settings([
        { scope: 'user', settings: { apiKeyHelper: 'ccred get shadowed', otelHeadersHelper: 'ccred get otel --format headers', awsCredentialExport: 'ccred aws-export bedrock', env: { CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '900000' } } },
        { scope: 'project', settings: { apiKeyHelper: 'ccred get gw', proxyAuthHelper: "'/n' '/c/ccred.cjs' get corp-proxy" } },
      ]),
      mcpServers: mcp,
      codex: [{ profile: 'codex-gw', hook: 'codex provider corp' }],
    })
    assert.deepEqual(uses, [
      { profile: 'gw', hook: 'claude apiKeyHelper', ttl: { ms: 900_000, from: 'CLAUDE_CODE_API_KEY_HELPER_TTL_MS from user', variable: 'CLAUDE_CODE_API_KEY_HELPER_TTL_MS' } },
      { profile: 'corp-proxy', hook: 'claude proxyAuthHelper', ttl: { ms: 300_000, from: "Claude Code's default", variable: 'CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS' } },
      { profile: 'bedrock', hook: 'claude awsCredentialExport' },
      { profile: 'otel', hook: 'claude otelHeadersHelper' },
      { profile: 'mcp-docs', hook: 'mcp docs headersHelper (user)', ttl: { ms: 300_000, from: "an MCP connection's headers, Claude Code's default" } },
      { profile: 'team-mcp', hook: 'mcp team headersHelper (project)', ttl: { ms: 300_000, from: "an MCP connection's headers, Claude Code's default" } },
      { profile: 'codex-gw', hook: 'codex provider corp' },
    ])
  })

  it('no hook: no profile is used; the longest TTL among a profile\'s uses is the one its lifetime must cover', () => {
    assert.deepEqual(hookProfileUses({ claude: settings([{ scope: 'user', settings: { apiKeyHelper: 'cat ~/.key', env: {} } }]), mcpServers: new Map(), codex: [] }), [])
    const longest = longestTtlUse([
      { profile: 'p', hook: 'mcp a headersHelper (user)', ttl: { ms: 300_000, from: 'x' } },
      { profile: 'p', hook: 'claude otelHeadersHelper' },
      { profile: 'p', hook: 'claude apiKeyHelper', ttl: { ms: 600_000, from: 'y', variable: 'CLAUDE_CODE_API_KEY_HELPER_TTL_MS' } },
    ])
    assert.equal(longest?.hook, 'claude apiKeyHelper')
    assert.equal(longestTtlUse([{ profile: 'p', hook: 'codex otel' }]), undefined)
  })
})
