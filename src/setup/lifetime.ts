import { safeHelperTtlMs } from '../broker/budget.js'
import { requestCredential } from '../client/credentials.js'
import { issuedLifetimeMs } from '../client/lifetime.js'
import type { CcredError } from '../errors.js'
import { sanitizeLine } from '../text/sanitize.js'

/**
 * The one lifetime rule every setup writes from: how long an agent may keep a value of
 * the profile (Claude Code's helper TTL, Codex's refresh_interval_ms), measured from
 * the profile's own credentials.
 */

/** The longest helper TTL ccred sets: a 401 re-runs the helper anyway, but a day-long cache helps nobody. */
const MAX_HELPER_TTL_MS = 3_600_000

/**
 * The TTL (or refresh interval) setup writes: the largest one the profile can serve safely (the
 * one rule shared with the broker's warning, `status` and `doctor`), capped.
 */
export function helperTtlFor(lifetimeMs: number, skewMs: number): number {
  return Math.min(MAX_HELPER_TTL_MS, Math.max(1000, safeHelperTtlMs(lifetimeMs, skewMs)))
}

/** How long the profile's credentials live (whole seconds), or undefined when they do not expire or cannot be fetched. */
export async function measureLifetime(profile: string, env: Record<string, string | undefined>, warn: (line: string) => void, what: string, fallback: string): Promise<number | undefined> {
  let issued
  try {
    issued = await requestCredential({ profile, callerTtlMs: 0 }, env, warn)
  } catch (error) {
    const failure = error as CcredError
    warn(`ccred: warning: could not fetch ${profile} to size ${what} (${sanitizeLine(failure.message)}); ${fallback}`)
    return undefined
  }
  if (issued.expiresAt === undefined) return undefined
  return issuedLifetimeMs(profile, issued.expiresAt, env)
}
