import { DEFAULT_HELPER_TTL_MS } from './claude-code.js'
import { holderKey, isPassThrough, type CallerDecision, type CallerKind, type EnvMark } from './caller.js'

/**
 * How long Codex keeps a provider token: its `refresh_interval_ms`, which the helper
 * cannot see (Codex passes no variable). Taken as Claude Code's default, 5 minutes, the
 * interval `setup codex` writes for a profile whose credentials outlive it; a value
 * that must outlive a longer interval is refreshed ahead by the broker all the same,
 * only later than Codex would need.
 */
export const CODEX_ASSUMED_REFRESH_INTERVAL_MS = DEFAULT_HELPER_TTL_MS

/**
 * A provider-auth re-run of the same Codex process within this long of being given a
 * value is its 401 retry: Codex re-runs the helper once right after a 401 and retries
 * the request (about one run a second in a 401 storm). Its proactive refresh comes
 * only after `refresh_interval_ms`, so the window is kept well below any interval a
 * user would set: a refresh is never taken for a refusal (which would cost an upstream
 * fetch each time). A 401 on a value held longer than this is met by the cached
 * value once; the storm's next run, a second later, gets a fresh one.
 */
export const CODEX_QUICK_REPEAT_MS = 30_000

const CODEX_MARKS: readonly EnvMark[] = [
  // Set by Codex's npm, bun, pnpm and vite+ launchers (not by a standalone binary): Codex without a process name.
  { name: 'CODEX_MANAGED_BY_NPM', keep: 'presence' },
  { name: 'CODEX_MANAGED_BY_BUN', keep: 'presence' },
  { name: 'CODEX_MANAGED_BY_PNPM', keep: 'presence' },
  { name: 'CODEX_MANAGED_BY_VITE_PLUS', keep: 'presence' },
  { name: 'CODEX_MANAGED_PACKAGE_ROOT', keep: 'presence' },
  // Where Codex's config.toml is, for the advice (presence only: the advice names the variable, not the path).
  { name: 'CODEX_HOME', keep: 'presence' },
  // Set on the commands Codex's agent runs in its sandbox (its shell tool), never on a hook run: those are scripts.
  { name: 'CODEX_SANDBOX', keep: 'presence' },
  { name: 'CODEX_SANDBOX_NETWORK_DISABLED', keep: 'presence' },
]

const LAUNCHER_MARKS = ['CODEX_MANAGED_BY_NPM', 'CODEX_MANAGED_BY_BUN', 'CODEX_MANAGED_BY_PNPM', 'CODEX_MANAGED_BY_VITE_PLUS', 'CODEX_MANAGED_PACKAGE_ROOT']

/** Codex's three command hooks, in its own words. */
export type CodexHook = 'provider auth' | 'mcp http_headers_helper' | 'otel headers_helper'

/**
 * OpenAI's Codex CLI (measured on 0.171.0). It passes no variable that names it, so it
 * is recognised by ancestry: the nearest non-shell ancestor is `codex` (the provider
 * `auth` command and the OTel `headers_helper` are exec'd by it directly; an MCP
 * server's `http_headers_helper` runs as `sh -c` under it). Where no ancestry can be
 * read (Windows), the npm/bun/pnpm launcher's CODEX_MANAGED_* marks stand in, and the
 * client's parent pid, Codex itself for its exec'd hooks, names the process.
 */
export const codex: CallerKind = {
  name: 'codex',
  envMarks: CODEX_MARKS,
  recognises(facts) {
    const { marks } = facts
    if (marks.CODEX_SANDBOX !== undefined || marks.CODEX_SANDBOX_NETWORK_DISABLED !== undefined) return false
    if (facts.process !== undefined) return facts.process.command === 'codex'
    return LAUNCHER_MARKS.some((name) => marks[name] !== undefined)
  },
  // Its launcher's marks reach every command Codex runs, so only ancestry says a run is its hook.
  knownByMarks: () => false,
  decide(facts) {
    const hook = codexHook(facts.headerSet, facts.parent?.command)
    const callerTtlMs = facts.statedTtlMs ?? CODEX_ASSUMED_REFRESH_INTERVAL_MS
    // The provider and OTel hooks are Codex's own children: without ancestry, the parent pid is Codex.
    const holder = facts.process?.pid ?? (hook === 'mcp http_headers_helper' ? undefined : facts.parentPid)
    const config = facts.marks.CODEX_HOME !== undefined ? '$CODEX_HOME/config.toml' : '~/.codex/config.toml'
    const decision: CallerDecision = {
      kind: 'codex',
      hook,
      callerTtlMs,
      shortLifetimeAdvice: (safeTtlMs) => codexAdvice(hook, safeTtlMs, config),
    }
    const callerKey = holderKey(holder === undefined ? undefined : String(holder), hook === 'provider auth' ? undefined : hook)
    if (callerKey !== undefined) decision.callerKey = callerKey
    if (facts.statedRejected !== undefined) decision.rejected = facts.statedRejected
    // Only the provider hook is re-run on a 401 (measured); an MCP helper runs once per connection.
    if (hook === 'provider auth' && !facts.interactive && callerTtlMs > 0) decision.reissueOnQuickRepeat = { withinMs: Math.min(CODEX_QUICK_REPEAT_MS, callerTtlMs / 2) }
    return decision
  },
}

/** A token for the provider; a header set under a shell is an MCP server's helper, exec'd directly the OTel one. */
export function codexHook(headerSet: boolean, parentCommand: string | undefined): CodexHook {
  if (!headerSet) return 'provider auth'
  return parentCommand !== undefined && isPassThrough(parentCommand) ? 'mcp http_headers_helper' : 'otel headers_helper'
}

function codexAdvice(hook: CodexHook, safeTtlMs: number, config: string): string {
  switch (hook) {
    case 'provider auth': return `set refresh_interval_ms = ${safeTtlMs} in the provider's auth table of ${config} (or lengthen the credential's lifetime)`
    case 'otel headers_helper': return `set headers_helper_refresh_interval_ms = ${safeTtlMs} in [otel] of ${config} (or lengthen the credential's lifetime)`
    case 'mcp http_headers_helper': return "Codex keeps an MCP server's headers for the whole connection: lengthen the credential's lifetime"
  }
}
