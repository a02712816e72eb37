import type { HelperHook } from '../claude/helper-context.js'
import type { Clock, TimerHandle } from '../clock.js'
import { formatDurationMs, lifetimeInWholeSecondsMs } from '../config/duration.js'
import type { Header } from '../config/settings.js'
import { CcredError, toCcredError, withContext } from '../errors.js'
import type { Credential } from '../credential.js'
import type { ProfileStatus } from '../protocol.js'
import type { FetchContext, Source } from '../sources/source.js'
import { checkCredential } from './validate.js'

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
  /** The caller's helper TTL (CLAUDE_CODE_API_KEY_HELPER_TTL_MS); the value must outlive it plus the skew. */
  callerTtlMs: number
  /** Nearest non-shell ancestor of the client: the Claude Code process. */
  callerPid?: number
  callerCommand?: string
  /**
   * When the asking process started. A re-run after a 401 is a new process,
   * started after the value was given; requests already in flight when it was
   * given are not a sign of rejection.
   */
  clientStartedAtMs?: number
  /** A person at a terminal: asking again soon is not a sign of a 401. */
  interactive?: boolean
  /**
   * Set only when Claude Code itself ran this get, to the setting that ran it. Only an
   * apiKeyHelper re-run is read as a 401; scripts, CI and Makefiles that call `get` on
   * every request are served from the cache.
   */
  claudeCodeHook?: HelperHook
  /**
   * What the caller says about the value it holds: true, it was refused (Claude
   * Code's proxyAuthHelper re-run after a 407); false, it was not; undefined, the
   * caller cannot say, so a refusal is inferred from it asking again early.
   */
  rejected?: boolean
  /** `ccred get --refresh`: a new value whatever the cache holds. */
  forceRefresh?: boolean
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
  /** Largest minimum validity asked for: the refresh-ahead target. */
  minValidityMs: number
  timer?: TimerHandle
  nextRefreshAtMs?: number
  lastError?: { error: CcredError; atMs: number }
  consecutiveFailures: number
  hits: number
  fetches: number
  reissues: number
  lastReissueAtMs?: number
  /** What each caller was last given, to recognise a re-run after a 401. */
  callers: Map<number, { seq: number; servedAtMs: number }>
  warning?: string
  warned: boolean
  dropped: boolean
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
 * The cache. Serves a credential only if it outlives the caller's TTL plus the
 * skew; refreshes ahead of that in the background; shares one upstream fetch
 * among concurrent callers; keeps serving a still-valid value while failed
 * refreshes back off; and re-issues when a caller comes back too soon for the
 * value it was given (Claude Code re-runs its helper at once after a 401).
 */
export class Broker {
  readonly #entries = new Map<string, Entry>()
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
    this.#backoffBaseMs = options.backoffBaseMs ?? 1000
    this.#backoffMaxMs = options.backoffMaxMs ?? 5 * 60_000
  }

  async get(request: GetRequest): Promise<GetResult> {
    const { profile } = request
    const entry = this.#entry(profile)
    const nowMs = this.#clock.now()
    const minValidityMs = Math.max(0, request.callerTtlMs) + this.#settings().skewMs
    if (minValidityMs > entry.minValidityMs) {
      entry.minValidityMs = minValidityMs
      this.#schedule(entry)
    }

    let served: Served | undefined = request.forceRefresh ? 'refresh' : undefined
    if (served === undefined && this.#refused(entry, request, nowMs)) served = 'reissue'
    if (served === undefined && entry.current !== undefined && this.#usable(entry.current, minValidityMs, nowMs)) {
      entry.hits++
      return this.#serve(entry, entry.current, 'hit', request)
    }
    if (served === 'reissue') {
      entry.reissues++
      entry.lastReissueAtMs = nowMs
    }
    const fresh = await this.#fetchShared(entry, served !== undefined)
    return this.#serve(entry, fresh, served ?? 'fetch', request)
  }

  /** Forgets a profile's cached value (after `ccred set`, or when its config is gone). */
  purge(profileName: string): boolean {
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
        consecutiveFailures: entry.consecutiveFailures,
        hits: entry.hits,
        fetches: entry.fetches,
        reissues: entry.reissues,
      }
      const expiresAt = entry.current?.credential.expiresAt
      if (expiresAt !== undefined) status.expiresAt = expiresAt.toISOString()
      if (entry.current !== undefined) status.lastRefreshAt = new Date(entry.current.fetchedAtMs).toISOString()
      if (entry.nextRefreshAtMs !== undefined) status.nextRefreshAt = new Date(entry.nextRefreshAtMs).toISOString()
      if (entry.lastError !== undefined) {
        status.lastError = { code: entry.lastError.error.code, message: entry.lastError.error.message, at: new Date(entry.lastError.atMs).toISOString() }
      }
      if (entry.warning !== undefined) status.warning = entry.warning
      const meta = entry.current?.credential.meta
      if (meta !== undefined) status.meta = { ...meta }
      return status
    })
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
      minValidityMs: 0,
      consecutiveFailures: 0,
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

  #drop(entry: Entry): void {
    entry.dropped = true
    entry.timer?.cancel()
    entry.timer = undefined
    entry.nextRefreshAtMs = undefined
    if (this.#entries.get(entry.profile.name) === entry) this.#entries.delete(entry.profile.name)
  }

  /**
   * A value that outlives the caller's need is usable. A source whose values are
   * shorter-lived than that need (it cannot do better) is used until half its life.
   */
  #usable(cached: Cached, minValidityMs: number, nowMs: number): boolean {
    const expiresAtMs = cached.credential.expiresAt?.getTime()
    if (expiresAtMs === undefined) return true
    const remainingMs = expiresAtMs - nowMs
    if (remainingMs >= minValidityMs) return true
    const lifetimeMs = expiresAtMs - cached.fetchedAtMs
    return lifetimeMs < minValidityMs && remainingMs > 0 && remainingMs >= lifetimeMs / 2
  }

  /**
   * Whether the value this caller holds was refused, so it needs a new one. A
   * caller that says so is believed; otherwise Claude Code's apiKeyHelper asking
   * again well inside the TTL of the value it was given means a refusal (Claude Code
   * re-runs the helper at once on a 401); no other caller's second ask is. Either way, a caller given a value that has since
   * been replaced gets the replacement, not another fetch; and re-issues are
   * rate-limited per profile so a misbehaving caller cannot hammer the source.
   */
  #refused(entry: Entry, request: GetRequest, nowMs: number): boolean {
    if (request.rejected === false || entry.current === undefined) return false
    const given = request.callerPid === undefined ? undefined : entry.callers.get(request.callerPid)
    if (given !== undefined && given.seq !== entry.current.seq) return false
    const sinceReissueMs = entry.lastReissueAtMs === undefined ? Infinity : nowMs - entry.lastReissueAtMs
    if (request.rejected === true) return sinceReissueMs >= Math.min(this.#settings().reissueIntervalMs, SIGNALLED_REISSUE_INTERVAL_MS)

    if (request.claudeCodeHook !== 'apiKeyHelper') return false
    if (given === undefined || request.interactive === true || request.callerTtlMs <= 0) return false
    if (request.clientStartedAtMs !== undefined && request.clientStartedAtMs <= given.servedAtMs) return false
    if (nowMs - given.servedAtMs >= request.callerTtlMs / 2) return false
    return sinceReissueMs >= this.#settings().reissueIntervalMs
  }

  #serve(entry: Entry, cached: Cached, served: Served, request: GetRequest): GetResult {
    if (request.callerPid !== undefined) {
      entry.callers.delete(request.callerPid)
      entry.callers.set(request.callerPid, { seq: cached.seq, servedAtMs: this.#clock.now() })
      if (entry.callers.size > MAX_CALLERS_PER_PROFILE) entry.callers.delete(entry.callers.keys().next().value!)
    }
    const event: BrokerEvent = { type: 'issue', profile: entry.profile.name, source: entry.profile.sourceKind, served }
    if (cached.credential.expiresAt !== undefined) event.expiresAt = cached.credential.expiresAt
    if (request.callerPid !== undefined) event.callerPid = request.callerPid
    if (request.callerCommand !== undefined) event.callerCommand = request.callerCommand
    this.#onEvent(event)
    const result: GetResult = { credential: cached.credential, served }
    const warning = this.#shortLivedWarning(entry, cached, request.callerTtlMs)
    if (warning !== undefined && !entry.warned) {
      entry.warned = true
      result.warning = warning
    }
    return result
  }

  #shortLivedWarning(entry: Entry, cached: Cached, callerTtlMs: number): string | undefined {
    const expiresAtMs = cached.credential.expiresAt?.getTime()
    if (expiresAtMs === undefined) return undefined
    // "1m59s" for a 2m lifetime would read as a bug.
    const lifetimeMs = lifetimeInWholeSecondsMs(expiresAtMs - cached.fetchedAtMs)
    const { skewMs } = this.#settings()
    if (lifetimeMs >= callerTtlMs + skewMs) return entry.warning
    const suggestedTtlMs = Math.max(1000, Math.floor((lifetimeMs - skewMs > 0 ? lifetimeMs - skewMs : lifetimeMs / 2) / 1000) * 1000)
    entry.warning =
      `profile ${entry.profile.name}: credentials live ${formatDurationMs(lifetimeMs)}, less than the helper TTL ${formatDurationMs(callerTtlMs)} + skew ${formatDurationMs(skewMs)}; ` +
      `set CLAUDE_CODE_API_KEY_HELPER_TTL_MS=${suggestedTtlMs} (or lengthen the credential's lifetime)`
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
      // The source learns why it is asked: a forced fetch must not renew the refused value.
      const credential = await profile.source.fetch(forced ? { ...profile.context, forced } : profile.context)
      const nowMs = this.#clock.now()
      checkCredential(credential, `profile ${profile.name}`, nowMs)
      const cached: Cached = { credential, seq, fetchedAtMs: nowMs }
      // Sequence guard: a slower, older fetch never overwrites a newer value.
      if (entry.current !== undefined && entry.current.seq > seq) return entry.current
      if (!entry.dropped) {
        entry.current = cached
        entry.consecutiveFailures = 0
        entry.lastError = undefined
        this.#schedule(entry)
      }
      return cached
    } catch (error) {
      const failure = withContext(toCcredError(error), `profile ${profile.name}`)
      if (!entry.dropped) {
        entry.lastError = { error: failure, atMs: this.#clock.now() }
        entry.consecutiveFailures++
      }
      throw failure
    }
  }

  /**
   * Arms the refresh-ahead timer so the value is renewed before any caller would
   * find it too short, or at the source's soft refresh time if that comes first.
   */
  #schedule(entry: Entry): void {
    entry.timer?.cancel()
    entry.timer = undefined
    entry.nextRefreshAtMs = undefined
    const cached = entry.current
    if (cached === undefined || entry.dropped) return
    const expiresAtMs = cached.credential.expiresAt?.getTime()
    const softRefreshAtMs = cached.credential.refreshAt?.getTime()
    let refreshAtMs = softRefreshAtMs ?? Infinity
    if (expiresAtMs !== undefined) {
      const lifetimeMs = expiresAtMs - cached.fetchedAtMs
      // How long a fresh value satisfies the most demanding caller; refresh a lead before that
      // ends, but never in the first half of it: a value barely longer-lived than callers need
      // would otherwise be replaced as soon as it arrives, again and again.
      const usableMs = lifetimeMs - entry.minValidityMs
      refreshAtMs = Math.min(refreshAtMs, usableMs > 0
        ? cached.fetchedAtMs + usableMs - Math.min(60_000, lifetimeMs / 10, usableMs / 2)
        : cached.fetchedAtMs + lifetimeMs * 0.4)
    }
    if (refreshAtMs === Infinity) return
    this.#arm(entry, Math.max(refreshAtMs, cached.fetchedAtMs + MIN_REFRESH_INTERVAL_MS), () => this.#refreshAhead(entry))
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
        const exponent = Math.min(entry.consecutiveFailures - 1, 20)
        const ceilingMs = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** exponent)
        const retryInMs = Math.round(ceilingMs / 2 + (this.#random() * ceilingMs) / 2)
        this.#arm(entry, this.#clock.now() + retryInMs, () => this.#refreshAhead(entry))
        this.#onEvent({ type: 'refresh-ahead', profile: profile.name, source: profile.sourceKind, ok: false, error: error.code, retryInMs })
      },
    )
  }
}
