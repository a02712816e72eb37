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

export interface HelperContext {
  /** How long the caller will keep using the value. */
  callerTtlMs: number
  /** Set when Claude Code runs us as proxyAuthHelper: print a full Proxy-Authorization value. */
  proxyHelper: boolean
  /**
   * Whether the caller says the value it holds was refused. Claude Code says so only
   * for proxyAuthHelper runs (CLAUDE_CODE_PROXY_AUTHENTICATE, the proxy's challenge, is
   * set on the re-run after a 407), so it is undefined for everything else: the daemon
   * then infers a 401 from the caller asking again early.
   */
  rejected?: boolean
}

/**
 * Claude Code sets CLAUDE_CODE_PROXY_URL only for proxyAuthHelper runs, whose cache
 * TTL is CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS; apiKeyHelper runs use
 * CLAUDE_CODE_API_KEY_HELPER_TTL_MS.
 */
export function helperContext(env: Record<string, string | undefined>): HelperContext {
  const proxyHelper = Boolean(env.CLAUDE_CODE_PROXY_URL)
  const ttl = proxyHelper ? env.CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS : env.CLAUDE_CODE_API_KEY_HELPER_TTL_MS
  const context: HelperContext = { callerTtlMs: parseHelperTtlMs(ttl), proxyHelper }
  if (proxyHelper) context.rejected = env.CLAUDE_CODE_PROXY_AUTHENTICATE !== undefined
  return context
}

export function headerFor(context: HelperContext, explicit: Header | undefined): Header | undefined {
  if (explicit !== undefined) return explicit
  return context.proxyHelper ? 'proxy-authorization' : undefined
}
