import type { Header } from '../config/settings.js'

/** Claude Code's own default helper TTL. */
export const DEFAULT_HELPER_TTL_MS = 300_000

/**
 * Reads a TTL the way Claude Code does: leading digits count ("2000ms" -> 2000);
 * anything else, or a negative value, falls back to the 5-minute default.
 */
export function parseHelperTtlMs(text: string | undefined): number {
  if (text === undefined) return DEFAULT_HELPER_TTL_MS
  const match = /^\s*(\d+)/.exec(text)
  if (match === null) return DEFAULT_HELPER_TTL_MS
  const ms = Number(match[1])
  return Number.isSafeInteger(ms) ? ms : DEFAULT_HELPER_TTL_MS
}

/**
 * Which Claude Code setting ran `ccred get`, as far as the environment and the
 * command line tell: CLAUDE_CODE_PROXY_URL is set only for proxyAuthHelper runs,
 * CLAUDE_CODE_MCP_SERVER_NAME only for an MCP server's headersHelper. otelHeadersHelper
 * runs carry no mark of their own (the OTEL_* variables reach every helper when the user
 * sets them), but only the two header hooks print a header set: `--format headers`
 * without an MCP server name is the otel hook. Everything else counts as apiKeyHelper;
 * "unknown" is kept for callers that cannot say.
 */
export type HelperHook = 'apiKeyHelper' | 'proxyAuthHelper' | 'headersHelper' | 'otelHeadersHelper' | 'unknown'
export const HELPER_HOOKS: readonly HelperHook[] = ['apiKeyHelper', 'proxyAuthHelper', 'headersHelper', 'otelHeadersHelper', 'unknown']

export function helperHook(env: Record<string, string | undefined>, headerSet = false): HelperHook {
  if (env.CLAUDE_CODE_PROXY_URL) return 'proxyAuthHelper'
  if (env.CLAUDE_CODE_MCP_SERVER_NAME) return 'headersHelper'
  return headerSet ? 'otelHeadersHelper' : 'apiKeyHelper'
}

/** CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS's default: Claude Code reuses otel headers this long. */
export const DEFAULT_OTEL_DEBOUNCE_MS = 29 * 60_000

/**
 * The variable that holds how long Claude Code reuses the hook's value. An MCP
 * server's headers have none (they serve the whole connection; a 401 on a tool call
 * re-runs the helper): undefined, and the 5-minute default applies.
 */
export function helperTtlVariable(hook: HelperHook): 'CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS' | 'CLAUDE_CODE_API_KEY_HELPER_TTL_MS' | 'CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS' | undefined {
  switch (hook) {
    case 'proxyAuthHelper': return 'CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS'
    case 'otelHeadersHelper': return 'CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS'
    case 'headersHelper': return undefined
    default: return 'CLAUDE_CODE_API_KEY_HELPER_TTL_MS'
  }
}

/** How long Claude Code keeps using the hook's value: its variable, read the way Claude Code reads it, or the hook's default. */
export function hookTtlMs(hook: HelperHook, env: Record<string, string | undefined>): number {
  const variable = helperTtlVariable(hook)
  if (variable === undefined) return DEFAULT_HELPER_TTL_MS
  const text = env[variable]
  if (hook === 'otelHeadersHelper') return text === undefined || !/^\s*\d+/.test(text) ? DEFAULT_OTEL_DEBOUNCE_MS : parseHelperTtlMs(text)
  return parseHelperTtlMs(text)
}

/**
 * The hook `ccred setup claude` makes of a profile: proxyAuthHelper for a
 * proxy-authorization header, else apiKeyHelper. One rule for setup, doctor and
 * the broker's TTL warning, so each names the same TTL variable.
 */
export function setupHookFor(header: Header): 'proxyAuthHelper' | 'apiKeyHelper' {
  return header === 'proxy-authorization' ? 'proxyAuthHelper' : 'apiKeyHelper'
}

/**
 * What the environment says about who ran `ccred get` (see
 * docs/agents-facts.md#every-helper-how-to-tell-claude-code-from-a-script). Only
 * names and marks, never CLAUDE_CODE_MESSAGING_TOKEN or any other value of
 * Claude Code's own.
 */
export interface CallerMarks {
  hook: HelperHook
  /** AI_AGENT: `claude-code_<version>_harness` on a helper run, `…_agent` in the agent's Bash tool. */
  aiAgent?: string
  /** CLAUDECODE=1: set in the agent's Bash tool, never on a helper run. */
  agentShell?: boolean
  /** CLAUDE_CODE_ENTRYPOINT (`cli`, `sdk-cli`, …). */
  entrypoint?: string
  /** CLAUDE_CODE_MCP_SERVER_NAME: the MCP server a headersHelper run is for (each connection holds its own value). */
  mcpServer?: string
}

export function callerMarks(env: Record<string, string | undefined>, headerSet = false): CallerMarks {
  const marks: CallerMarks = { hook: helperHook(env, headerSet) }
  if (env.AI_AGENT) marks.aiAgent = env.AI_AGENT.slice(0, 100)
  if (env.CLAUDECODE === '1') marks.agentShell = true
  if (env.CLAUDE_CODE_ENTRYPOINT) marks.entrypoint = env.CLAUDE_CODE_ENTRYPOINT.slice(0, 100)
  if (env.CLAUDE_CODE_MCP_SERVER_NAME) marks.mcpServer = env.CLAUDE_CODE_MCP_SERVER_NAME.slice(0, 100)
  return marks
}

/**
 * Whether Claude Code itself ran this `get` as one of its helpers (not a script,
 * a Makefile, CI, or a command the agent runs through its Bash tool). Since 2.1.330
 * Claude Code says so: `AI_AGENT=claude-code_<v>_harness` without CLAUDECODE marks a
 * helper run, `…_agent` or CLAUDECODE=1 a command of the agent. Older releases set no
 * AI_AGENT: then CLAUDE_CODE_ENTRYPOINT, or the nearest non-shell ancestor being the
 * `claude` process, marks a helper run (the agent's commands carry CLAUDECODE=1).
 */
export function isClaudeCodeHelperRun(marks: Omit<CallerMarks, 'hook'> | undefined, callerCommand: string | undefined): boolean {
  if (marks?.agentShell === true) return false
  const agent = marks?.aiAgent
  if (agent !== undefined) return agent.startsWith('claude-code_') && agent.endsWith('_harness')
  return marks?.entrypoint !== undefined || callerCommand === 'claude'
}

export interface HelperContext {
  /** How long the caller will keep using the value. */
  callerTtlMs: number
  /** Which Claude Code setting ran us (apiKeyHelper unless the environment says otherwise). */
  hook: HelperHook
  /**
   * Whether the caller says the value it holds was refused. Claude Code says so only
   * for proxyAuthHelper runs (CLAUDE_CODE_PROXY_AUTHENTICATE, the proxy's challenge, is
   * set on the re-run after a 407), so it is undefined for everything else: the daemon
   * then infers a 401 from Claude Code asking again early.
   */
  rejected?: boolean
}

/** How Claude Code ran us: the hook, its TTL variable, and a 407 challenge if any. `headerSet`: get --format headers. */
export function helperContext(env: Record<string, string | undefined>, headerSet = false): HelperContext {
  const hook = helperHook(env, headerSet)
  const context: HelperContext = { callerTtlMs: hookTtlMs(hook, env), hook }
  if (hook === 'proxyAuthHelper') context.rejected = env.CLAUDE_CODE_PROXY_AUTHENTICATE !== undefined
  return context
}

/**
 * The header whose value `get` prints: the one asked for, else Proxy-Authorization
 * for a proxyAuthHelper run (Claude Code sends that output verbatim as the header),
 * else the profile's own.
 */
export function headerFor(context: HelperContext, explicit: Header | undefined, profileHeader: Header): Header {
  if (explicit !== undefined) return explicit
  return context.hook === 'proxyAuthHelper' ? 'proxy-authorization' : profileHeader
}
