import { homedir } from 'node:os'
import { join } from 'node:path'
export { DEFAULT_OTEL_DEBOUNCE_MS } from '../callers/claude-code.js'

/**
 * Claude Code's helpers besides apiKeyHelper/proxyAuthHelper, as measured on
 * 2.1.330 (docs/agents-facts.md#claude-code-21330-measured-2026-11-30): MCP `headersHelper`, `otelHeadersHelper`,
 * and the `awsAuthRefresh` / `gcpAuthRefresh` commands. What they print, how long
 * Claude Code waits and caches, which environment they get.
 */

type Env = Record<string, string | undefined>

/** Claude Code kills an MCP headersHelper after 10 s. */
export const MCP_HELPER_TIMEOUT_MS = 10_000
/** `claude -p` does not wait for the helper: one taking this long left the first request without the server's tools. */
export const MCP_HELPER_SLOW_MS = 3_000
/** Claude Code kills an otelHeadersHelper after 30 s. */
export const OTEL_HELPER_TIMEOUT_MS = 30_000
export const OTEL_DEBOUNCE_VARIABLE = 'CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS'

/**
 * Parses helper output the way Claude Code does for headersHelper and
 * otelHeadersHelper: the whole stdout (a trailing newline is fine) must be one JSON
 * object whose values are all strings; anything else is rejected as a whole and no
 * header is sent. Returns the headers, or why Claude Code would reject the output.
 */
export function parseHeadersOutput(stdout: string): { headers: Record<string, string> } | { problem: string } {
  const text = stdout.trim()
  if (text === '') return { problem: 'empty output' }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { problem: 'the output is not one JSON object (extra text around it, or invalid JSON)' }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { problem: `the output is ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`}, not a JSON object` }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') return { problem: `header "${name.slice(0, 60)}" is a ${value === null ? 'null' : typeof value}, not a string` }
    headers[name] = value
  }
  return { headers }
}

/**
 * Whether Claude Code removes this variable from a project `.mcp.json` server's
 * headersHelper environment (credential-looking names; HOME, PATH, XDG_* and
 * VAULT_ADDR-style names stay). Measured by example, so this errs on the side of
 * "removed": doctor then warns about a variable that might in fact reach the helper.
 */
export function strippedForProjectMcp(name: string): boolean {
  const upper = name.toUpperCase()
  if (upper === 'SSH_AUTH_SOCK' || upper.startsWith('AWS_ACCESS_KEY') || upper.startsWith('AWS_SECRET') || upper === 'AWS_SESSION_TOKEN') return true
  if (/(^|_)(SECRET|PASSWORD|PASSWD|CREDENTIALS?)(_|$)/.test(upper)) return true
  return /_(TOKEN|PAT|KEY|KEY_FILE|API_KEY|APIKEY|AUTH)$/.test(upper) || upper === 'TOKEN'
}

/** The environment Claude Code gives a project `.mcp.json` server's headersHelper. */
export function projectMcpHelperEnv(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !strippedForProjectMcp(name)))
}

/** Where Claude Code keeps MCP servers: user scope in ~/.claude.json, project scope in <project>/.mcp.json. */
export type McpScope = 'user' | 'project'

export function mcpConfigPath(scope: McpScope, env: Env, projectDir: string): string {
  if (scope === 'project') return join(projectDir, '.mcp.json')
  // With CLAUDE_CONFIG_DIR, Claude Code keeps .claude.json there instead of in HOME.
  return env.CLAUDE_CONFIG_DIR ? join(env.CLAUDE_CONFIG_DIR, '.claude.json') : join(env.HOME || homedir(), '.claude.json')
}

export interface McpServerEntry {
  type?: string
  url?: string
  headers?: Record<string, unknown>
  headersHelper?: string
  command?: string
}

/** The servers of an MCP config object (`mcpServers`), ignoring entries that are not objects. */
export function mcpServersOf(config: Record<string, unknown>): Map<string, McpServerEntry> {
  const servers = new Map<string, McpServerEntry>()
  const table = config.mcpServers
  if (typeof table !== 'object' || table === null || Array.isArray(table)) return servers
  for (const [name, entry] of Object.entries(table)) {
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) servers.set(name, entry as McpServerEntry)
  }
  return servers
}

/** A remote server (headersHelper applies): "http" or "sse" with a URL; a stdio server has a command instead. */
export function isRemoteMcpServer(entry: McpServerEntry): boolean {
  return (entry.type === 'http' || entry.type === 'sse') && typeof entry.url === 'string'
}

/**
 * Header names the helper prints that differ from a static header only in case:
 * Claude Code merges case-sensitively, so both are sent (the helper wins only on
 * an exact match).
 */
export function caseClashes(helperNames: readonly string[], staticHeaders: Record<string, unknown> | undefined): { helper: string; static: string }[] {
  const clashes: { helper: string; static: string }[] = []
  for (const name of Object.keys(staticHeaders ?? {})) {
    for (const helper of helperNames) {
      if (helper !== name && helper.toLowerCase() === name.toLowerCase()) clashes.push({ helper, static: name })
    }
  }
  return clashes
}

/**
 * What keeps Claude Code's OTLP exporter from running otelHeadersHelper: the
 * helper runs only for the http exporters (never grpc), and only when telemetry is
 * on with an otlp exporter and an endpoint. `setting(name)` reads a variable the
 * way Claude Code sees it (settings env over the shell).
 */
export function otlpExporterProblems(setting: (name: string) => string | undefined): string[] {
  const problems: string[] = []
  if (setting('CLAUDE_CODE_ENABLE_TELEMETRY') !== '1') problems.push('CLAUDE_CODE_ENABLE_TELEMETRY is not 1: Claude Code exports nothing')
  const exporters = ['OTEL_METRICS_EXPORTER', 'OTEL_LOGS_EXPORTER'].filter((name) => (setting(name) ?? '').split(',').map((s) => s.trim()).includes('otlp'))
  if (exporters.length === 0) problems.push('neither OTEL_METRICS_EXPORTER nor OTEL_LOGS_EXPORTER includes otlp')
  for (const signal of ['', 'METRICS_', 'LOGS_']) {
    const name = `OTEL_EXPORTER_OTLP_${signal}PROTOCOL`
    const protocol = setting(name)
    if (protocol === undefined) {
      if (signal === '') problems.push(`${name} is not set: set http/json or http/protobuf (the helper never runs for grpc)`)
      continue
    }
    if (protocol !== 'http/json' && protocol !== 'http/protobuf') problems.push(`${name}=${protocol.slice(0, 40)}: otelHeadersHelper runs only for http/json or http/protobuf`)
  }
  if (setting('OTEL_EXPORTER_OTLP_ENDPOINT') === undefined && setting('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') === undefined && setting('OTEL_EXPORTER_OTLP_LOGS_ENDPOINT') === undefined) {
    problems.push('no OTEL_EXPORTER_OTLP_ENDPOINT: the exporter has no collector to send to')
  }
  return problems
}

/** The `ccred get <profile>` inside a helper command, if the command runs ccred. */
export function ccredProfileOf(command: string): string | undefined {
  return /ccred(?:\.c?js)?['"]?\s+get\s+([A-Za-z0-9._-]+)/.exec(command)?.[1]
}

/** The `ccred login <profile>` an auth-refresh command runs, if it runs ccred. */
export function ccredLoginProfileOf(command: string): string | undefined {
  return /ccred(?:\.c?js)?['"]?\s+login\s+([A-Za-z0-9._-]+)/.exec(command)?.[1]
}
