import type { Header } from '../config/settings.js'
import { holderKey, type CallerDecision, type CallerFacts, type CallerKind, type EnvMark, type Marks } from './caller.js'

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
 * without an MCP server name is the otel hook. Everything else counts as apiKeyHelper.
 */
export type HelperHook = 'apiKeyHelper' | 'proxyAuthHelper' | 'headersHelper' | 'otelHeadersHelper'

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
 * What Claude Code's environment says about a run (see docs: how ccred tells callers
 * apart). Only names, marks and TTLs travel to the daemon; CLAUDE_CODE_MESSAGING_TOKEN
 * (a credential of Claude Code's own) is never declared, and the messaging socket's
 * path only as a digest: it tells one Claude Code session from another where no
 * process ancestry can (Windows), without saying where the socket is.
 */
const CLAUDE_CODE_MARKS: readonly EnvMark[] = [
  /** `claude-code_<version>_harness` on a helper run, `…_agent` in the agent's Bash tool (2.1.330+). */
  { name: 'AI_AGENT', keep: 'value' },
  /** CLAUDECODE=1: set in the agent's Bash tool, never on a helper run. */
  { name: 'CLAUDECODE', keep: 'value' },
  /** `cli`, `sdk-cli`, …: a helper run of a release without AI_AGENT. */
  { name: 'CLAUDE_CODE_ENTRYPOINT', keep: 'value' },
  /** The MCP server a headersHelper run is for (each connection holds its own value). */
  { name: 'CLAUDE_CODE_MCP_SERVER_NAME', keep: 'value' },
  /** Set only for proxyAuthHelper runs; its value (a proxy URL) may hold a password: presence only. */
  { name: 'CLAUDE_CODE_PROXY_URL', keep: 'presence' },
  /** The proxy's 407 challenge, on the re-run after it. */
  { name: 'CLAUDE_CODE_PROXY_AUTHENTICATE', keep: 'presence' },
  { name: 'CLAUDE_CODE_API_KEY_HELPER_TTL_MS', keep: 'value' },
  { name: 'CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS', keep: 'value' },
  { name: 'CLAUDE_CODE_OTEL_HEADERS_HELPER_DEBOUNCE_MS', keep: 'value' },
  { name: 'CLAUDE_CODE_MESSAGING_SOCKET', keep: 'hash' },
]

/**
 * Whether Claude Code itself ran this `get` as one of its helpers (not a script,
 * a Makefile, CI, or a command the agent runs through its Bash tool). Since 2.1.330
 * Claude Code says so: `AI_AGENT=claude-code_<v>_harness` without CLAUDECODE marks a
 * helper run, `…_agent` or CLAUDECODE=1 a command of the agent. Older releases set no
 * AI_AGENT: then CLAUDE_CODE_ENTRYPOINT, or the nearest non-shell ancestor being the
 * `claude` process, marks a helper run (the agent's commands carry CLAUDECODE=1).
 */
export function isClaudeCodeHelperRun(marks: Marks, callerCommand: string | undefined): boolean {
  if (marks.CLAUDECODE === '1') return false
  const agent = marks.AI_AGENT
  if (agent) return agent.startsWith('claude-code_') && agent.endsWith('_harness')
  return Boolean(marks.CLAUDE_CODE_ENTRYPOINT) || callerCommand === 'claude'
}

/**
 * The terms of Claude Code's helper contract for one run, which `ccred get` follows for
 * any caller that names no other (script.ts): the hook, how long the value is kept
 * (its TTL variable), a 407 challenge as a stated refusal, who holds the value, and
 * the variable to lower when the credentials live too short. The re-issue on a quick
 * repeat is Claude Code's alone (claudeCode.decide).
 */
export function helperTerms(facts: CallerFacts, profileHeader: Header): Omit<CallerDecision, 'kind'> & { hook: HelperHook } {
  const { marks } = facts
  const context = helperContext(marks, facts.headerSet)
  const terms: Omit<CallerDecision, 'kind'> & { hook: HelperHook } = {
    hook: context.hook,
    callerTtlMs: facts.statedTtlMs ?? context.callerTtlMs,
    // The TTL variable of the hook `setup claude` writes for this profile: the one the user set up.
    shortLifetimeAdvice: (safeTtlMs) => `set ${helperTtlVariable(setupHookFor(profileHeader))}=${safeTtlMs} (or lengthen the credential's lifetime)`,
  }
  const rejected = facts.statedRejected ?? context.rejected
  if (rejected !== undefined) terms.rejected = rejected
  // A pid where ancestry names the process; else the session (Windows), known from the messaging socket's digest.
  const holder = facts.process !== undefined ? String(facts.process.pid) : marks.CLAUDE_CODE_MESSAGING_SOCKET ? `session:${marks.CLAUDE_CODE_MESSAGING_SOCKET}` : undefined
  const server = marks.CLAUDE_CODE_MCP_SERVER_NAME
  const callerKey = holderKey(holder, server ? `mcp:${server}` : undefined)
  if (callerKey !== undefined) terms.callerKey = callerKey
  return terms
}

/**
 * Claude Code: recognised by its marks or its process name. It re-runs apiKeyHelper
 * at once after a 401 from the API, and an MCP server's headersHelper after a 401 to a
 * tool call (told apart by the server's name: without it, a second server of the same
 * process would look like a re-run); so asking again within half the TTL of the value
 * it holds means the value was refused. proxyAuthHelper says so itself (its 407
 * challenge); otelHeadersHelper never re-runs early.
 */
export const claudeCode: CallerKind = {
  name: 'claude-code',
  envMarks: CLAUDE_CODE_MARKS,
  recognises: (facts) => isClaudeCodeHelperRun(facts.marks, facts.process?.command),
  // AI_AGENT=…_harness is set on helper runs only (the agent's commands get …_agent), and the
  // messaging socket's digest names the session.
  knownByMarks: ({ marks }) => Boolean(marks.AI_AGENT) && isClaudeCodeHelperRun(marks, undefined) && Boolean(marks.CLAUDE_CODE_MESSAGING_SOCKET),
  decide(facts, profileHeader) {
    const terms = helperTerms(facts, profileHeader)
    const decision: CallerDecision = { kind: 'claude-code', ...terms }
    const rerunsOn401 = terms.hook === 'apiKeyHelper' || (terms.hook === 'headersHelper' && Boolean(facts.marks.CLAUDE_CODE_MCP_SERVER_NAME))
    // A person at a terminal asking twice is not a 401; a TTL of 0 gives no window to ask early in.
    if (rerunsOn401 && !facts.interactive && terms.callerTtlMs > 0) decision.reissueOnQuickRepeat = { withinMs: terms.callerTtlMs / 2 }
    return decision
  },
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
export function headerFor(hook: HelperHook, explicit: Header | undefined, profileHeader: Header): Header {
  if (explicit !== undefined) return explicit
  return hook === 'proxyAuthHelper' ? 'proxy-authorization' : profileHeader
}
