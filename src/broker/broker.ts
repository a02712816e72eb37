import type { Clock, TimerHandle } from '../clock.js'
import { formatDurationMs, lifetimeInWholeSecondsMs } from '../config/duration.js'
import type { Header } from '../config/settings.js'
import { CcredError, toCcredError, withContext, codedWarning } from '../errors.js'
import type { Credential } from '../credential.js'
import type { BudgetStatus, ProfileStatus } from '../protocol.js'
import type { FetchContext, Source } from '../sources/source.js'
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, backoffMs, coversWithinBudget, Demands, refreshAgeMs, safeHelperTtlMs, SHORT_LIVED_SERVE_FRACTION, TokenBucket } from './budget.js'
import { checkCredential } from './validate.js'
import { MIN_REDACTED_RUN_IN_MESSAGES, redactSecrets } from '../text/redact.js'

/** A profile as the broker sees it: everything that identifies the credential is in `key`. */
export interface BrokerProfile {
  /** Profile name + hash of its resolved config: a config edit gives a new key. */
  key: string
  name: string
  sourceKind: string
  header: Header
  source: Source
  context: FetchContext
}

export type Served = 'hit' | 'fetch' | 'refresh' | 'reissue'

export interface GetRequest {
  profile: BrokerProfile
  /** How long the caller keeps using the value (its helper TTL); the value must outlive it plus the skew. */
  callerTtlMs: number
  /**
   * Who holds the value (a process, and a connection inside it when it has several):
   * what each holder was given is remembered, to recognise its re-run after a refusal.
   */
  callerKey?: string
  /** The caller's pid and program name, for the audit log only. */
  callerPid?: number
  callerCommand?: string
  /**
   * When the asking process started. A re-run after a 401 is a new process,
   * started after the value was given; requests already in flight when it was
   * given are not a sign of rejection.
   */
  clientStartedAtMs?: number
  /**
   * Set when the caller asking again within `withinMs` of being given a value means the
   * value was refused (an agent re-running its helper at once after a 401). Unset, a
   * repeat is served from the cache: scripts, CI and Makefiles call `get` on every request.
   */
  reissueOnQuickRepeat?: { withinMs: number }
  /**
   * What the caller says about the value it holds: true, it was refused (a proxy's
   * 407 challenge); false, it was not; undefined, the caller cannot say, so a refusal
   * is inferred from a quick repeat where `reissueOnQuickRepeat` allows it.
   */
  rejected?: boolean
  /** `ccred get --refresh`: a new value whatever the cache holds. */
  forceRefresh?: boolean
  /** What the caller should change when the credentials live too short for its TTL (the largest safe TTL given). */
  shortLifetimeAdvice?: (safeTtlMs: number) => string
}

export interface GetResult {
  credential: Credential
  served: Served
  /** Set once per profile when the source's credentials live shorter than the caller needs. */
  warning?: string
}

export type BrokerEvent =
  | { type: 'issue'; profile: string; source: string; served: Served; expiresAt?: Date; callerPid?: number; callerCommand?: string }
  | { type: 'refresh-ahead'; profile: string; source: string; ok: boolean; expiresAt?: Date; error?: string; retryInMs?: number }

export interface BrokerSettingsView {
  skewMs: number
  reissueIntervalMs: number
  /** The upstream budget's bucket; undefined: budget.ts's FORCED_BUCKET_CAPACITY and FORCED_REFILL_MS. */
  forcedBurst?: number
  forcedRefillMs?: number
}

export interface BrokerOptions {
  clock: Clock
  settings: () => BrokerSettingsView
  onEvent?: (event: BrokerEvent) => void
  random?: () => number
  backoffBaseMs?: number
  backoffMaxMs?: number
}

interface Cached {
  credential: Credential
  seq: number
  fetchedAtMs: number
}

interface InFlight {
  promise: Promise<Cached>
  seq: number
  forced: boolean
}

interface Entry {
  profile: BrokerProfile
  current?: Cached
  inflight?: InFlight
  fetchSeq: number
  /** Minimum validities asked for lately: the largest is the refresh-ahead target. */
  demands: Demands
  /** The profile's upstream budget, shared by every entry the profile ever had. */
  budget: ProfileBudget
  timer?: TimerHandle
  nextRefreshAtMs?: number
  hits: number
  fetches: number
  reissues: number
  lastReissueAtMs?: number
  /** What each caller (pid, and MCP server if any) was last given, to recognise a re-run after a 401. */
  callers: Map<string, { seq: number; servedAtMs: number }>
  warning?: string
  warned: boolean
  dropped: boolean
}

/**
 * What limits a profile's upstream calls, kept by profile name for the life of the
 * broker: dropping a cached value (purge, a config reload, a new key) keeps it, or
 * `POST /v1/purge` + `get` in a loop would be an unmetered upstream call each time.
 */
interface ProfileBudget {
  /** Forced refreshes, re-issues and the first fetch after a purge. */
  bucket: TokenBucket
  /** After a failure: no upstream call before this (the refresh timer waits too). */
  backoffUntilMs?: number
  lastError?: { error: CcredError; atMs: number }
  consecutiveFailures: number
  /** The value was purged: the next fetch with nothing cached is a forced one, paid from the bucket. */
  purged: boolean
  /**
   * The secret strings of the last RECENT_VALUES credentials (current and previous): a
   * helper's failure text may quote the value still served, so every message from the
   * source is redacted against them. Daemon memory only, where the values are anyway.
   */
  recentValues: string[][]
}

const RECENT_VALUES = 2

/** The strings of a credential that are secret. */
function secretStrings(credential: Credential): string[] {
  switch (credential.kind) {
    case 'token':
      return [credential.value]
    case 'aws':
      return [credential.secretAccessKey, ...(credential.sessionToken === undefined ? [] : [credential.sessionToken])]
    case 'headers':
      // A header value is a scheme and a credential, or the credential itself.
      return Object.values(credential.headers).flatMap((value) => [value, value.replace(/^\S+\s+/, '')])
  }
}

/** The error with every secret taken out of its message and hint (code, cause and detail kept). */
function redactedError(error: CcredError, secrets: readonly string[]): CcredError {
  const message = redactSecrets(error.message, secrets, MIN_REDACTED_RUN_IN_MESSAGES)
  const hint = error.hint === undefined ? undefined : redactSecrets(error.hint, secrets, MIN_REDACTED_RUN_IN_MESSAGES)
  if (message === error.message && hint === error.hint) return error
  return new CcredError(error.code, message, { ...(hint === undefined ? {} : { hint }), cause: error, detail: error.detail })
}

/** Callers remembered per profile for 401 detection; older ones are forgotten first. */
const MAX_CALLERS_PER_PROFILE = 256
/**
 * A refusal the caller reports (a 407 challenge) is certain, so it waits less than an
 * inferred one; the floor still bounds a caller stuck in a refuse-and-retry loop.
 */
const SIGNALLED_REISSUE_INTERVAL_MS = 1000
/** Refresh-ahead never runs sooner than this after a fetch, however short-lived the source's values. */
const MIN_REFRESH_INTERVAL_MS = 1000
/**
 * The first failure may be a blip: the next foreground get tries again at once.
 * From this many consecutive failures on, foreground gets wait out the backoff.
 */
const FOREGROUND_BACKOFF_AFTER_FAILURES = 2

/**
 * The cache. Serves a credential only if it outlives the caller's TTL plus the
 * skew; refreshes ahead of that in the background; shares one upstream fetch
 * among concurrent callers; keeps serving a still-valid value while failed
 * refreshes back off; and re-issues when a caller comes back too soon for the
 * value it was given and its caller says that means a refusal (an agent re-runs its helper at once after a 401).
 */
export class Broker {
  readonly #entries = new Map<string, Entry>()
  /** By profile name; outlives the entries (see ProfileBudget). */
  readonly #budgets = new Map<string, ProfileBudget>()
  readonly #clock: Clock
  readonly #settings: () => BrokerSettingsView
  readonly #onEvent: (event: BrokerEvent) => void
  readonly #random: () => number
  readonly #backoffBaseMs: number
  readonly #backoffMaxMs: number

  constructor(options: BrokerOptions) {
    this.#clock = options.clock
    this.#settings = options.settings
    this.#onEvent = options.onEvent ?? (() => undefined)
    this.#random = options.random ?? Math.random
    this.#backoffBaseMs = options.backoffBaseMs ?? BACKOFF_BASE_MS
    this.#backoffMaxMs = options.backoffMaxMs ?? BACKOFF_MAX_MS
  }

  async get(request: GetRequest): Promise<GetResult> {
    const { profile } = request
    const entry = this.#entry(profile)
    const nowMs = this.#clock.now()
    const minValidityMs = Math.max(0, request.callerTtlMs) + this.#settings().skewMs
    const demandBefore = entry.demands.current(nowMs, this.#lifetimeMs(entry.current))
    entry.demands.ask(minValidityMs, nowMs)
    if (demandBefore === undefined || minValidityMs > demandBefore) this.#schedule(entry)

    let served: Served | undefined = request.forceRefresh ? 'refresh' : undefined
    if (served === undefined && this.#refused(entry, request, nowMs)) served = 'reissue'
    let budgetNote: string | undefined
    // A forced fetch costs a token from the bucket, unless it joins one already under way
    // or there is nothing cached to keep serving. With a token it is not held back by the
    // backoff: the bucket is its budget.
    let forcedWithToken = false
    if (served !== undefined && entry.current !== undefined && entry.inflight?.forced !== true) {
      if (entry.budget.bucket.take(nowMs)) forcedWithToken = true
      else {
        const waitMs = entry.budget.bucket.nextTokenAtMs(nowMs) - nowMs
        if (served === 'refresh') budgetNote = codedWarning('WARN_REFRESH_BUDGET', `profile ${profile.name}: refresh budget spent (${entry.budget.bucket.capacity} forced refreshes, one more every ${formatDurationMs(entry.budget.bucket.refillMs)}); served the cached value; next forced refresh in ${formatDurationMs(Math.max(1000, waitMs))}`)
        served = undefined
      }
    }
    if (served === undefined && entry.current !== undefined && this.#usable(entry.current, minValidityMs, nowMs)) {
      entry.hits++
      return this.#serve(entry, entry.current, 'hit', request, budgetNote)
    }
    if (!forcedWithToken && entry.inflight === undefined && this.#inBackoff(entry, nowMs)) {
      // The source failed again and again: no new upstream call before the backoff ends.
      // A value that is still valid beats an error; otherwise the remembered error.
      const expiresAtMs = entry.current?.credential.expiresAt?.getTime()
      if (entry.current !== undefined && (expiresAtMs === undefined || expiresAtMs > nowMs)) {
        entry.hits++
        return this.#serve(entry, entry.current, 'hit', request, budgetNote)
      }
      throw this.#remembered(entry, nowMs)
    }
    if (!forcedWithToken && entry.current === undefined && entry.inflight === undefined && entry.budget.purged) this.#payPurgedFetch(entry, nowMs)
    if (served === 'reissue' && entry.inflight?.forced !== true) {
      entry.reissues++
      entry.lastReissueAtMs = nowMs
    }
    const fresh = await this.#fetchShared(entry, served !== undefined)
    return this.#serve(entry, fresh, served ?? 'fetch', request, budgetNote)
  }

  /** The first fetch after a purge takes a token from the bucket; without one, the caller is told when to come back. */
  #payPurgedFetch(entry: Entry, nowMs: number): void {
    const { bucket } = entry.budget
    if (!bucket.take(nowMs)) {
      const waitMs = Math.max(1000, bucket.nextTokenAtMs(nowMs) - nowMs)
      throw new CcredError('ERR_SOURCE_UNAVAILABLE', `profile ${entry.profile.name}: its cached value was dropped (purge) more often than the upstream budget allows (${bucket.capacity} at once, one more every ${formatDurationMs(bucket.refillMs)}); next fetch in ${formatDurationMs(waitMs)}`, {
        hint: 'something runs ccred set / login / logout (or POST /v1/purge) in a loop; stop it, then run the command again',
      })
    }
    entry.budget.purged = false
  }

  #inBackoff(entry: Entry, nowMs: number): boolean {
    return entry.budget.consecutiveFailures >= FOREGROUND_BACKOFF_AFTER_FAILURES && entry.budget.backoffUntilMs !== undefined && nowMs < entry.budget.backoffUntilMs
  }

  /** The last failure, said again with when the source will be tried next. */
  #remembered(entry: Entry, nowMs: number): CcredError {
    const last = entry.budget.lastError!.error
    const retryInS = Math.max(1, Math.ceil((entry.budget.backoffUntilMs! - nowMs) / 1000))
    const message = `${last.message} (failed ${entry.budget.consecutiveFailures} times; retrying in ${retryInS} s)`
    return new CcredError(last.code, message, last.hint === undefined ? { cause: last } : { hint: last.hint, cause: last })
  }

  /**
   * Forgets a profile's cached value (after `ccred set`, `login`, `logout`), at once: a
   * value someone wants gone is never served again. The fetch that replaces it is paid
   * from the profile's bucket like a forced refresh, and a failing source stays in its
   * backoff, so purging in a loop cannot drive the upstream.
   */
  purge(profileName: string): boolean {
    const budget = this.#budgets.get(profileName)
    if (budget !== undefined) budget.purged = true
    const entry = this.#entries.get(profileName)
    if (entry === undefined) return false
    this.#drop(entry)
    return true
  }

  /** Drops every profile whose name is not in `names` or whose key changed (config reload). */
  retain(keysByName: Map<string, string>): void {
    for (const entry of [...this.#entries.values()]) {
      if (keysByName.get(entry.profile.name) !== entry.profile.key) this.#drop(entry)
    }
  }

  status(): ProfileStatus[] {
    return [...this.#entries.values()].map((entry) => {
      const status: ProfileStatus = {
        profile: entry.profile.name,
        source: entry.profile.sourceKind,
        header: entry.profile.header,
        cached: entry.current !== undefined,
        refreshing: entry.inflight !== undefined,
        consecutiveFailures: entry.budget.consecutiveFailures,
        hits: entry.hits,
        fetches: entry.fetches,
        reissues: entry.reissues,
        budget: this.#budgetStatus(entry),
      }
      const expiresAt = entry.current?.credential.expiresAt
      if (expiresAt !== undefined) status.expiresAt = expiresAt.toISOString()
      if (entry.current !== undefined) status.lastRefreshAt = new Date(entry.current.fetchedAtMs).toISOString()
      if (entry.nextRefreshAtMs !== undefined) status.nextRefreshAt = new Date(entry.nextRefreshAtMs).toISOString()
      if (entry.budget.lastError !== undefined) {
        status.lastError = { code: entry.budget.lastError.error.code, message: entry.budget.lastError.error.message, at: new Date(entry.budget.lastError.atMs).toISOString() }
      }
      if (entry.warning !== undefined) status.warning = entry.warning
      const meta = entry.current?.credential.meta
      if (meta !== undefined) status.meta = { ...meta }
      return status
    })
  }

  #budgetStatus(entry: Entry): BudgetStatus {
    const nowMs = this.#clock.now()
    const budget: BudgetStatus = {
      forcedTokens: entry.budget.bucket.tokens(nowMs),
      forcedCapacity: entry.budget.bucket.capacity,
      forcedRefillMs: entry.budget.bucket.refillMs,
    }
    if (entry.budget.backoffUntilMs !== undefined && entry.budget.consecutiveFailures > 0 && entry.budget.backoffUntilMs > nowMs) budget.backoffUntil = new Date(entry.budget.backoffUntilMs).toISOString()
    const lifetimeMs = this.#lifetimeMs(entry.current)
    const demand = entry.demands.current(nowMs, lifetimeMs)
    if (demand !== undefined) budget.minValidityMs = demand
    if (lifetimeMs !== undefined) {
      budget.lifetimeMs = lifetimeMs
      budget.safeHelperTtlMs = safeHelperTtlMs(lifetimeMs, this.#settings().skewMs)
    }
    return budget
  }

  /** How long a cached value lived when fetched, in whole seconds ("1m59s" for a 2m lifetime would read as a bug). */
  #lifetimeMs(cached: Cached | undefined): number | undefined {
    const expiresAtMs = cached?.credential.expiresAt?.getTime()
    return expiresAtMs === undefined ? undefined : lifetimeInWholeSecondsMs(expiresAtMs - cached!.fetchedAtMs)
  }

  /** Cancels every timer; the broker can be dropped after this. */
  close(): void {
    for (const entry of [...this.#entries.values()]) this.#drop(entry)
  }

  #entry(profile: BrokerProfile): Entry {
    const existing = this.#entries.get(profile.name)
    if (existing !== undefined && existing.profile.key === profile.key) return existing
    if (existing !== undefined) this.#drop(existing)
    const entry: Entry = {
      profile,
      fetchSeq: 0,
      demands: new Demands(),
      budget: this.#budget(profile.name),
      hits: 0,
      fetches: 0,
      reissues: 0,
      callers: new Map(),
      warned: false,
      dropped: false,
    }
    this.#entries.set(profile.name, entry)
    return entry
  }

  #budget(profileName: string): ProfileBudget {
    const nowMs = this.#clock.now()
    const wanted = new TokenBucket(nowMs, this.#settings().forcedBurst, this.#settings().forcedRefillMs)
    let budget = this.#budgets.get(profileName)
    if (budget === undefined) {
      budget = { bucket: wanted, consecutiveFailures: 0, purged: false, recentValues: [] }
      this.#budgets.set(profileName, budget)
    } else if (budget.bucket.capacity !== wanted.capacity || budget.bucket.refillMs !== wanted.refillMs) {
      // [broker] changed the bucket's size: the new one starts as spent as the old one was.
      const spent = budget.bucket.capacity - budget.bucket.tokens(nowMs)
      for (let i = 0; i < spent; i++) wanted.take(nowMs)
      budget.bucket = wanted
    }
    return budget
  }

  /** Drops the cached value and its timer; the profile's budget stays (see ProfileBudget). */
  #drop(entry: Entry): void {
    entry.dropped = true
    entry.timer?.cancel()
    entry.timer = undefined
    entry.nextRefreshAtMs = undefined
    if (this.#entries.get(entry.profile.name) === entry) this.#entries.delete(entry.profile.name)
  }

  /**
   * A value that outlives the caller's need is usable. For a need the source cannot
   * cover within the budget (see coversWithinBudget) a value is used until half its
   * life: fetching sooner would break the budget, and the caller is told to lower its
   * TTL (see safeHelperTtlMs). Before, a lifetime just above TTL + skew fell between
   * the two rules and made every get a fetch.
   */
  #usable(cached: Cached, minValidityMs: number, nowMs: number): boolean {
    const expiresAtMs = cached.credential.expiresAt?.getTime()
    if (expiresAtMs === undefined) return true
    const remainingMs = expiresAtMs - nowMs
    if (remainingMs >= minValidityMs) return true
    const lifetimeMs = expiresAtMs - cached.fetchedAtMs
    return !coversWithinBudget(lifetimeMs, minValidityMs) && remainingMs > 0 && nowMs - cached.fetchedAtMs < lifetimeMs * SHORT_LIVED_SERVE_FRACTION
  }

  /**
   * Whether the value this caller holds was refused, so it needs a new one. A
   * caller that says so is believed; otherwise, where the caller's decision allows
   * it, asking again soon after being given the value means a refusal (agents re-run
   * their helper at once after a 401); no other caller's second ask is. Either way, a
   * caller given a value that has since been replaced gets the replacement, not
   * another fetch; and re-issues are rate-limited per profile so a misbehaving caller
   * cannot hammer the source.
   */
  #refused(entry: Entry, request: GetRequest, nowMs: number): boolean {
    if (request.rejected === false || entry.current === undefined) return false
    const key = request.callerKey
    const given = key === undefined ? undefined : entry.callers.get(key)
    if (given !== undefined && given.seq !== entry.current.seq) return false
    const sinceReissueMs = entry.lastReissueAtMs === undefined ? Infinity : nowMs - entry.lastReissueAtMs
    if (request.rejected === true) return sinceReissueMs >= Math.min(this.#settings().reissueIntervalMs, SIGNALLED_REISSUE_INTERVAL_MS)

    const quickRepeat = request.reissueOnQuickRepeat
    if (quickRepeat === undefined || given === undefined) return false
    if (request.clientStartedAtMs !== undefined && request.clientStartedAtMs <= given.servedAtMs) return false
    if (nowMs - given.servedAtMs >= quickRepeat.withinMs) return false
    // A re-run while the re-issue is still under way joins it: an agent that re-runs two
    // helpers at once after a refusal (a reconnect) should give both the new value.
    return sinceReissueMs >= this.#settings().reissueIntervalMs || entry.inflight?.forced === true
  }

  #serve(entry: Entry, cached: Cached, served: Served, request: GetRequest, budgetNote?: string): GetResult {
    const key = request.callerKey
    if (key !== undefined) {
      entry.callers.delete(key)
      entry.callers.set(key, { seq: cached.seq, servedAtMs: this.#clock.now() })
      if (entry.callers.size > MAX_CALLERS_PER_PROFILE) entry.callers.delete(entry.callers.keys().next().value!)
    }
    const event: BrokerEvent = { type: 'issue', profile: entry.profile.name, source: entry.profile.sourceKind, served }
    if (cached.credential.expiresAt !== undefined) event.expiresAt = cached.credential.expiresAt
    if (request.callerPid !== undefined) event.callerPid = request.callerPid
    if (request.callerCommand !== undefined) event.callerCommand = request.callerCommand
    this.#onEvent(event)
    const result: GetResult = { credential: cached.credential, served }
    const warning = this.#shortLivedWarning(entry, cached, request)
    if (warning !== undefined && !entry.warned) {
      entry.warned = true
      result.warning = warning
    }
    if (budgetNote !== undefined) result.warning = result.warning === undefined ? budgetNote : `${result.warning}; ${budgetNote}`
    return result
  }

  #shortLivedWarning(entry: Entry, cached: Cached, request: GetRequest): string | undefined {
    const expiresAtMs = cached.credential.expiresAt?.getTime()
    if (expiresAtMs === undefined) return undefined
    const lifetimeMs = this.#lifetimeMs(cached)!
    const { skewMs } = this.#settings()
    const { callerTtlMs } = request
    const safeTtlMs = safeHelperTtlMs(lifetimeMs, skewMs)
    if (callerTtlMs <= safeTtlMs) return entry.warning
    const advice = request.shortLifetimeAdvice?.(safeTtlMs) ?? `lower the caller's TTL to ${formatDurationMs(safeTtlMs)} (or lengthen the credential's lifetime)`
    entry.warning = codedWarning('WARN_SHORT_LIFETIME', safeTtlMs === 0
      ? `profile ${entry.profile.name}: credentials live ${formatDurationMs(lifetimeMs)}, too short for any helper TTL with skew ${formatDurationMs(skewMs)}; lengthen the credential's lifetime or lower [broker] skew`
      : `profile ${entry.profile.name}: credentials live ${formatDurationMs(lifetimeMs)}, too short for the helper TTL ${formatDurationMs(callerTtlMs)} + skew ${formatDurationMs(skewMs)} (the largest safe TTL is ${formatDurationMs(safeTtlMs)}); ${advice}`)
    return entry.warning
  }

  /** One upstream fetch per profile at a time; a forced fetch does not join an ordinary one that may return the rejected value. */
  #fetchShared(entry: Entry, forced: boolean): Promise<Cached> {
    const inflight = entry.inflight
    if (inflight !== undefined && (!forced || inflight.forced)) return inflight.promise
    const seq = ++entry.fetchSeq
    const promise = this.#fetch(entry, seq, forced)
    entry.inflight = { promise, seq, forced }
    const clear = () => {
      if (entry.inflight?.seq === seq) entry.inflight = undefined
    }
    promise.then(clear, clear)
    return promise
  }

  async #fetch(entry: Entry, seq: number, forced: boolean): Promise<Cached> {
    const { profile } = entry
    entry.fetches++
    try {
      // The source learns why it is asked (a forced fetch must not renew the refused value) and what it must not quote.
      const credential = await profile.source.fetch({ ...profile.context, ...(forced ? { forced } : {}), secrets: () => this.#secretsOf(entry) })
      entry.budget.recentValues = [secretStrings(credential), ...entry.budget.recentValues].slice(0, RECENT_VALUES)
      const nowMs = this.#clock.now()
      checkCredential(credential, `profile ${profile.name}`, nowMs)
      const cached: Cached = { credential, seq, fetchedAtMs: nowMs }
      // Sequence guard: a slower, older fetch never overwrites a newer value.
      if (entry.current !== undefined && entry.current.seq > seq) return entry.current
      // The source answered: the profile's backoff ends, whether or not this entry still holds the value.
      entry.budget.consecutiveFailures = 0
      entry.budget.lastError = undefined
      entry.budget.backoffUntilMs = undefined
      if (!entry.dropped) {
        entry.current = cached
        this.#schedule(entry)
      }
      return cached
    } catch (error) {
      // Whatever the source put in its message (a helper's stderr, an upstream's body) is redacted once more here.
      const failure = redactedError(withContext(toCcredError(error), `profile ${profile.name}`), this.#secretsOf(entry))
      // Counted for the profile even when its entry was dropped meanwhile (a purge must not forget a failure).
      const failedAtMs = this.#clock.now()
      entry.budget.lastError = { error: failure, atMs: failedAtMs }
      entry.budget.consecutiveFailures++
      entry.budget.backoffUntilMs = failedAtMs + backoffMs(entry.budget.consecutiveFailures, this.#random, this.#backoffBaseMs, this.#backoffMaxMs)
      throw failure
    }
  }

  /** What a message about this profile must never contain: its recent values and what its references resolved to. */
  #secretsOf(entry: Entry): string[] {
    return [...entry.budget.recentValues.flat(), ...(entry.profile.context.secrets?.() ?? [])]
  }

  /**
   * Arms the refresh-ahead timer so the value is renewed before any caller would
   * find it too short, or at the source's soft refresh time if that comes first.
   */
  #schedule(entry: Entry): void {
    entry.timer?.cancel()
    entry.timer = undefined
    entry.nextRefreshAtMs = undefined
    if (entry.dropped) return
    const refreshAtMs = this.#refreshDueAtMs(entry)
    if (refreshAtMs === undefined) return
    this.#arm(entry, refreshAtMs, () => this.#refreshAhead(entry))
  }

  /**
   * When the cached value needs renewing for the callers asking lately: a lead before
   * it would fall short of the largest minimum validity, never sooner than the budget's
   * floor. Undefined: nothing to renew (nothing cached, or nobody asked lately).
   */
  #refreshDueAtMs(entry: Entry): number | undefined {
    const cached = entry.current
    if (cached === undefined) return undefined
    const lifetimeMs = this.#lifetimeMs(cached) ?? 0
    const demand = entry.demands.current(this.#clock.now(), lifetimeMs)
    if (demand === undefined) return undefined
    const expiresAtMs = cached.credential.expiresAt?.getTime()
    const softRefreshAtMs = cached.credential.refreshAt?.getTime()
    // The source's own refresh time (a rotation it announces) is its call; the budget's floor
    // (refreshAgeMs) bounds the refreshes that callers' demands drive.
    let refreshAtMs = softRefreshAtMs ?? Infinity
    if (expiresAtMs !== undefined) refreshAtMs = Math.min(refreshAtMs, cached.fetchedAtMs + refreshAgeMs(expiresAtMs - cached.fetchedAtMs, demand))
    if (refreshAtMs === Infinity) return undefined
    // The demand may be forgotten before then: look again at that time.
    const demandEndsAtMs = entry.demands.expiresAtMs(this.#clock.now(), lifetimeMs)
    // Whole milliseconds: a fractional due time can sit a rounding error after "now" when its timer fires, re-arming forever.
    const atMs = Math.ceil(Math.max(refreshAtMs, cached.fetchedAtMs + MIN_REFRESH_INTERVAL_MS))
    return demandEndsAtMs !== undefined && demandEndsAtMs < atMs ? Math.max(demandEndsAtMs, this.#clock.now()) + 1 : atMs
  }

  #arm(entry: Entry, atMs: number, fn: () => void): void {
    entry.timer?.cancel()
    entry.nextRefreshAtMs = atMs
    entry.timer = this.#clock.setTimer(fn, atMs - this.#clock.now())
  }

  #refreshAhead(entry: Entry): void {
    if (entry.dropped) return
    entry.timer = undefined
    entry.nextRefreshAtMs = undefined
    const nowMs = this.#clock.now()
    if (entry.budget.consecutiveFailures === 0) {
      // Callers may have stopped asking, or the largest demand may have been forgotten since.
      const dueAtMs = this.#refreshDueAtMs(entry)
      if (dueAtMs === undefined) return
      if (dueAtMs > nowMs) return this.#arm(entry, dueAtMs, () => this.#refreshAhead(entry))
    }
    const { profile } = entry
    this.#fetchShared(entry, false).then(
      (cached) => {
        const event: BrokerEvent = { type: 'refresh-ahead', profile: profile.name, source: profile.sourceKind, ok: true }
        if (cached.credential.expiresAt !== undefined) event.expiresAt = cached.credential.expiresAt
        this.#onEvent(event)
      },
      (error: CcredError) => {
        if (entry.dropped) return
        // Jittered exponential backoff; the still-valid value keeps being served meanwhile.
        const nowMs = this.#clock.now()
        const retryAtMs = Math.max(entry.budget.backoffUntilMs ?? nowMs, nowMs)
        const retryInMs = retryAtMs - nowMs
        this.#arm(entry, retryAtMs, () => this.#refreshAhead(entry))
        this.#onEvent({ type: 'refresh-ahead', profile: profile.name, source: profile.sourceKind, ok: false, error: error.code, retryInMs })
      },
    )
  }
}
