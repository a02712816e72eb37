import { helperTtlVariable, hookTtlMs, parseHelperTtlMs } from '../callers/claude-code.js'
import { ccredProfileOf, isRemoteMcpServer, type McpScope, type McpServerEntry } from '../setup/claude-hooks.js'
import type { ClaudeSettingsView } from './hooks.js'

/**
 * One hook of an agent that runs ccred for a profile. `ttl` is how long the agent keeps
 * the value, for the hooks whose period the profile's own lifetime check compares
 * against; the others have a line of their own that compares (otelHeadersHelper's
 * debounce, Codex's refresh intervals) or follow the credential's expiry
 * (awsCredentialExport reads its Expiration).
 */
export interface HookUse {
  profile: string
  /** The hook as doctor names it: "claude apiKeyHelper", "mcp docs headersHelper (project)", "codex provider corp". */
  hook: string
  ttl?: { ms: number; from: string; variable?: string }
}

/** What names the hooks: Claude Code's merged settings, its MCP servers per scope, the Codex hooks (codexHookProfiles). */
export interface HookSources {
  claude: Pick<ClaudeSettingsView, 'value' | 'env'>
  mcpServers: ReadonlyMap<McpScope, ReadonlyMap<string, McpServerEntry>>
  codex: readonly HookUse[]
}

/** `ccred aws-export <profile>` in an awsCredentialExport command. */
function awsExportProfileOf(command: string): string | undefined {
  return /ccred(?:\.c?js)?['"]?\s+aws-export\s+([A-Za-z0-9._-]+)/.exec(command)?.[1]
}

/**
 * The rule for which profiles a doctor run checks strictly: those a hook names. Claude
 * Code's apiKeyHelper and proxyAuthHelper (against their TTL variables, read as Claude
 * Code reads them), awsCredentialExport and otelHeadersHelper from the effective
 * settings, every remote MCP server's headersHelper (user ~/.claude.json and project
 * .mcp.json, against the 5-minute default a connection's headers get), and the Codex
 * hooks. A profile no hook names is information: a demo, a test profile or a signed-out
 * one breaks no agent.
 */
export function hookProfileUses(sources: HookSources): HookUse[] {
  const uses: HookUse[] = []
  for (const key of ['apiKeyHelper', 'proxyAuthHelper'] as const) {
    const found = sources.claude.value(key)
    const profile = typeof found?.value === 'string' ? ccredProfileOf(found.value) : undefined
    if (profile === undefined) continue
    const variable = helperTtlVariable(key)!
    const set = sources.claude.env(variable)
    uses.push({ profile, hook: `claude ${key}`, ttl: { ms: parseHelperTtlMs(set?.value), from: set === undefined ? "Claude Code's default" : `${variable} from ${set.scope}`, variable } })
  }
  const aws = sources.claude.value('awsCredentialExport')
  const awsProfile = typeof aws?.value === 'string' ? awsExportProfileOf(aws.value) ?? ccredProfileOf(aws.value) : undefined
  if (awsProfile !== undefined) uses.push({ profile: awsProfile, hook: 'claude awsCredentialExport' })
  const otel = sources.claude.value('otelHeadersHelper')
  const otelProfile = typeof otel?.value === 'string' ? ccredProfileOf(otel.value) : undefined
  if (otelProfile !== undefined) uses.push({ profile: otelProfile, hook: 'claude otelHeadersHelper' })
  for (const [scope, servers] of sources.mcpServers) {
    for (const [name, server] of servers) {
      const profile = typeof server.headersHelper === 'string' && isRemoteMcpServer(server) ? ccredProfileOf(server.headersHelper) : undefined
      if (profile !== undefined) uses.push({ profile, hook: `mcp ${name} headersHelper (${scope})`, ttl: { ms: hookTtlMs('headersHelper', {}), from: "an MCP connection's headers, Claude Code's default" } })
    }
  }
  uses.push(...sources.codex)
  return uses
}

/** The use whose agent keeps the value longest: the one a profile's lifetime must cover. */
export function longestTtlUse(uses: readonly HookUse[]): (HookUse & { ttl: NonNullable<HookUse['ttl']> }) | undefined {
  let longest: (HookUse & { ttl: NonNullable<HookUse['ttl']> }) | undefined
  for (const use of uses) if (use.ttl !== undefined && (longest === undefined || use.ttl.ms > longest.ttl.ms)) longest = use as HookUse & { ttl: NonNullable<HookUse['ttl']> }
  return longest
}
