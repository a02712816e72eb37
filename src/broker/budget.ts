/**
 * The upstream budget of one profile: how often the broker may call the source,
 * whatever its callers do. Pure arithmetic on times the broker passes in (its
 * clock), so the numbers can be checked with a FakeClock and stated in docs/daemon.md.
 *
 * - Refresh-ahead never runs sooner than REFRESH_FLOOR_FRACTION of a credential's
 *   lifetime after it was fetched (at most 4 background fetches per lifetime); for
 *   a caller whose TTL needs more than that allows, at 40 % of the lifetime.
 * - Forced refreshes (`get --refresh`) and re-issues (a caller's value refused)
 *   take a token from a bucket: FORCED_BUCKET_CAPACITY tokens, one more every
 *   FORCED_REFILL_MS.
 * - A failing source is retried after a jittered exponential backoff; meanwhile
 *   foreground gets with nothing usable get the remembered error.
 * - What a caller asked for (its TTL + skew) is remembered for DEMAND_MEMORY_MS
 *   after it last asked (or twice its own size, or the credential's lifetime, if
 *   longer); then it stops driving refresh-ahead.
 */

/** Refresh-ahead waits at least this fraction of the credential's lifetime after a fetch. */
export const REFRESH_FLOOR_FRACTION = 1 / 4
/** Forced refreshes and re-issues in a burst. */
export const FORCED_BUCKET_CAPACITY = 3
/** One more forced refresh or re-issue allowed per this many ms. */
export const FORCED_REFILL_MS = 10_000
/** How long a caller's minimum validity keeps driving refresh-ahead after it last asked. */
export const DEMAND_MEMORY_MS = 60 * 60_000
export const BACKOFF_BASE_MS = 1000
export const BACKOFF_MAX_MS = 5 * 60_000

/**
 * The time a refresh needs before a value falls short: a fetch and a retry or two.
 * A tenth of the lifetime for short-lived values, at most a minute.
 */
export function refreshLeadMs(lifetimeMs: number): number {
  return Math.min(60_000, lifetimeMs / 10)
}

/**
 * The largest helper TTL (CLAUDE_CODE_API_KEY_HELPER_TTL_MS) a profile whose
 * credentials live `lifetimeMs` can serve safely. Claude Code uses a value for the
 * whole TTL and a little past it (stale-while-revalidate, covered by the skew), so
 * every value served must outlive TTL + skew. The broker serves a value until its
 * refresh-ahead, which the budget holds back to REFRESH_FLOOR_FRACTION of the
 * lifetime, and needs a lead for the refresh itself; so a value may be served with
 * as little as lifetime × (1 − fraction) − lead left:
 *
 *   safe TTL = lifetime × (1 − REFRESH_FLOOR_FRACTION) − lead − skew, whole seconds.
 *
 * 10-minute credentials, skew 60 s: 450 − 60 − 60 = 330 s. Used by `setup claude`
 * (the TTL it writes), the broker's short-lifetime warning, `status` and `doctor`.
 * 0 when no TTL is safe (the lifetime is shorter than the skew can cover).
 */
export function safeHelperTtlMs(lifetimeMs: number, skewMs: number): number {
  const safeMs = lifetimeMs * (1 - REFRESH_FLOOR_FRACTION) - refreshLeadMs(lifetimeMs) - skewMs
  return Math.max(0, Math.floor(safeMs / 1000) * 1000)
}

/**
 * A caller whose TTL is more than the source can serve safely (its values would have
 * to be renewed sooner than the floor): its values are renewed at this fraction of
 * their life and served until SHORT_LIVED_SERVE_FRACTION of it. The warning, `status`
 * and `doctor` tell it to lower its TTL.
 */
export const SHORT_LIVED_REFRESH_FRACTION = 0.4
export const SHORT_LIVED_SERVE_FRACTION = 0.5

/** Whether a fresh value of this lifetime covers `minValidityMs` long enough for the budget's floor. */
export function coversWithinBudget(lifetimeMs: number, minValidityMs: number): boolean {
  return lifetimeMs - minValidityMs - refreshLeadMs(lifetimeMs) >= lifetimeMs * REFRESH_FLOOR_FRACTION
}

/**
 * Age (ms after the fetch) at which refresh-ahead renews a value: a lead before it
 * would stop covering `minValidityMs`, which is never sooner than the budget's
 * floor; for a need the source cannot cover so, at 40 % of its life.
 */
export function refreshAgeMs(lifetimeMs: number, minValidityMs: number): number {
  return coversWithinBudget(lifetimeMs, minValidityMs)
    ? lifetimeMs - minValidityMs - refreshLeadMs(lifetimeMs)
    : lifetimeMs * SHORT_LIVED_REFRESH_FRACTION
}

/** Delay before retry number `failures` (1 = after the first failure): jittered exponential. */
export function backoffMs(failures: number, random: () => number, baseMs = BACKOFF_BASE_MS, maxMs = BACKOFF_MAX_MS): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 20)
  const ceilingMs = Math.min(maxMs, baseMs * 2 ** exponent)
  return Math.round(ceilingMs / 2 + (random() * ceilingMs) / 2)
}

/** Forced refreshes and re-issues: a token bucket, refilled continuously. */
export class TokenBucket {
  #tokens: number
  #updatedAtMs: number

  constructor(nowMs: number, readonly capacity = FORCED_BUCKET_CAPACITY, readonly refillMs = FORCED_REFILL_MS) {
    this.#tokens = capacity
    this.#updatedAtMs = nowMs
  }

  #refill(nowMs: number): void {
    if (nowMs > this.#updatedAtMs) {
      this.#tokens = Math.min(this.capacity, this.#tokens + (nowMs - this.#updatedAtMs) / this.refillMs)
    }
    this.#updatedAtMs = Math.max(this.#updatedAtMs, nowMs)
  }

  /** Whole tokens left now. */
  tokens(nowMs: number): number {
    this.#refill(nowMs)
    return Math.floor(this.#tokens)
  }

  /** Takes a token if one is left. */
  take(nowMs: number): boolean {
    this.#refill(nowMs)
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** When the next whole token is there (now if one is). */
  nextTokenAtMs(nowMs: number): number {
    this.#refill(nowMs)
    return this.#tokens >= 1 ? nowMs : nowMs + Math.ceil((1 - this.#tokens) * this.refillMs)
  }
}

/**
 * The minimum validities callers asked for, each forgotten once its caller has
 * not asked for a while: a TTL asked once does not drive refreshes forever.
 */
export class Demands {
  readonly #lastAskedAtMs = new Map<number, number>()

  ask(minValidityMs: number, nowMs: number): void {
    this.#lastAskedAtMs.set(minValidityMs, nowMs)
  }

  /**
   * The largest minimum validity still remembered; undefined when nobody asked lately.
   * `lifetimeMs`: of the cached value; a demand lasts at least that long, so a caller of
   * long-lived credentials (6 h) finds the next one fresh after a quiet spell.
   */
  current(nowMs: number, lifetimeMs = 0): number | undefined {
    let largest: number | undefined
    for (const [minValidityMs, askedAtMs] of this.#lastAskedAtMs) {
      if (nowMs - askedAtMs > demandMemoryMs(minValidityMs, lifetimeMs)) {
        this.#lastAskedAtMs.delete(minValidityMs)
        continue
      }
      if (largest === undefined || minValidityMs > largest) largest = minValidityMs
    }
    return largest
  }

  /** When the demand that is largest now is forgotten, unless asked again. */
  expiresAtMs(nowMs: number, lifetimeMs = 0): number | undefined {
    const largest = this.current(nowMs, lifetimeMs)
    if (largest === undefined) return undefined
    return this.#lastAskedAtMs.get(largest)! + demandMemoryMs(largest, lifetimeMs)
  }
}

/** A caller asks again about once per TTL (Claude Code's cache); two of those missed means it stopped. */
function demandMemoryMs(minValidityMs: number, lifetimeMs: number): number {
  return Math.max(DEMAND_MEMORY_MS, 2 * minValidityMs, lifetimeMs)
}
