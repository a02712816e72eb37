import type { Clock, TimerHandle } from '../clock.js'
import { toCcredError, type CcredError } from '../errors.js'
import type { VaultLogin } from './auth/login.js'

export interface TokenManagerOptions {
  clock: Clock
  /** Logs in (or, for a token the user holds, re-reads it and looks it up). */
  login: () => Promise<VaultLogin>
  /** auth/token/renew-self with this increment in seconds. */
  renewSelf: (token: string, incrementS: number) => Promise<VaultLogin>
}

interface TokenState {
  token: string
  obtainedAtMs: number
  /** undefined: the token does not expire. */
  expiresAtMs?: number
  /** The TTL Vault granted at login: the increment asked for on each renewal. */
  grantedTtlMs?: number
  renewable: boolean
  /** A renewal gave less than asked: the token has reached its max TTL and must be replaced by a new login. */
  capped: boolean
  policies: string[]
}

export interface TokenStatus {
  hasToken: boolean
  expiresAt?: string
  renewable?: boolean
  policies?: string[]
  logins: number
  renewals: number
  lastError?: { code: string; message: string; at: string }
}

/** Below this a token is not handed out: a request could outlive it. */
const MIN_REMAINING_MS = 5_000
/** Background retries after a failed renewal wait at most this long. */
const MAX_RETRY_MS = 30_000

/**
 * One Vault token per connection, kept in daemon memory with its TTL. Like Vault
 * Agent's lifetime watcher it renews the token (auth/token/renew-self) at about
 * two thirds of its life while it is renewable, and logs in again when it is not
 * or when renewals stop extending it (max TTL). Callers that find no usable token
 * log in once, together (single-flight). Time comes from the injected clock.
 */
export class VaultTokenManager {
  readonly #options: TokenManagerOptions
  #state: TokenState | undefined
  #acquiring: Promise<TokenState> | undefined
  #timer: TimerHandle | undefined
  #closed = false
  #logins = 0
  #renewals = 0
  #lastError: { error: CcredError; atMs: number } | undefined

  constructor(options: TokenManagerOptions) {
    this.#options = options
  }

  /** A token with some life left: the one held, else a renewed or new one. */
  async token(): Promise<string> {
    const state = this.#state
    if (state !== undefined && this.#remainingMs(state) > MIN_REMAINING_MS) return state.token
    return (await this.#acquire()).token
  }

  /** Vault refused this token (revoked or expired early): forget it, so the next call logs in again. */
  invalidate(token: string): void {
    if (this.#state?.token !== token) return
    this.#state = undefined
    this.#cancelTimer()
  }

  status(): TokenStatus {
    const state = this.#state
    const status: TokenStatus = { hasToken: state !== undefined, logins: this.#logins, renewals: this.#renewals }
    if (state !== undefined) {
      if (state.expiresAtMs !== undefined) status.expiresAt = new Date(state.expiresAtMs).toISOString()
      status.renewable = state.renewable
      status.policies = [...state.policies]
    }
    if (this.#lastError !== undefined) {
      status.lastError = { code: this.#lastError.error.code, message: this.#lastError.error.message, at: new Date(this.#lastError.atMs).toISOString() }
    }
    return status
  }

  close(): void {
    this.#closed = true
    this.#cancelTimer()
    this.#state = undefined
  }

  #remainingMs(state: TokenState): number {
    return state.expiresAtMs === undefined ? Infinity : state.expiresAtMs - this.#options.clock.now()
  }

  #acquire(): Promise<TokenState> {
    this.#acquiring ??= this.#renewOrLogin().finally(() => { this.#acquiring = undefined })
    return this.#acquiring
  }

  async #renewOrLogin(): Promise<TokenState> {
    const state = this.#state
    if (state !== undefined && state.renewable && !state.capped && this.#remainingMs(state) > 0) {
      try {
        const renewed = await this.#renew(state)
        if (this.#remainingMs(renewed) > MIN_REMAINING_MS) return renewed
      } catch { /* a token that cannot be renewed is replaced by a login */ }
    }
    return this.#login()
  }

  async #login(): Promise<TokenState> {
    try {
      const login = await this.#options.login()
      this.#logins++
      const nowMs = this.#options.clock.now()
      const state: TokenState = { token: login.token, obtainedAtMs: nowMs, renewable: login.renewable, capped: false, policies: login.policies }
      if (login.ttlMs !== undefined) {
        state.expiresAtMs = nowMs + login.ttlMs
        state.grantedTtlMs = login.ttlMs
      }
      this.#install(state)
      return state
    } catch (error) {
      this.#lastError = { error: toCcredError(error), atMs: this.#options.clock.now() }
      throw error
    }
  }

  async #renew(state: TokenState): Promise<TokenState> {
    const incrementS = Math.max(1, Math.round((state.grantedTtlMs ?? 0) / 1000))
    try {
      const renewed = await this.#options.renewSelf(state.token, incrementS)
      this.#renewals++
      const nowMs = this.#options.clock.now()
      const next: TokenState = { ...state, obtainedAtMs: nowMs, renewable: renewed.renewable, capped: false }
      if (renewed.ttlMs !== undefined) {
        next.expiresAtMs = nowMs + renewed.ttlMs
        // Vault caps a renewal at the token's max TTL: it grants less and warns. It may also grant
        // less simply because it ignores the increment ("Vault is not required to honor this
        // request"): then renewing goes on for as long as it moves the expiry later.
        const grantedLess = renewed.ttlMs < incrementS * 1000
        const extended = state.expiresAtMs === undefined || next.expiresAtMs > state.expiresAtMs
        next.capped = grantedLess && (renewed.cappedAtMaxTtl === true || !extended)
      }
      if (this.#state === state) this.#install(next)
      return next
    } catch (error) {
      this.#lastError = { error: toCcredError(error), atMs: this.#options.clock.now() }
      throw error
    }
  }

  #install(state: TokenState): void {
    this.#state = state
    this.#cancelTimer()
    const remainingMs = this.#remainingMs(state)
    if (this.#closed || remainingMs === Infinity) return
    // Replacing a token that can no longer be extended: not in its very last seconds.
    if ((!state.renewable || state.capped) && remainingMs <= 3 * MIN_REMAINING_MS) return
    this.#arm((remainingMs * 2) / 3)
  }

  #arm(delayMs: number): void {
    this.#cancelTimer()
    this.#timer = this.#options.clock.setTimer(() => { void this.#background() }, delayMs)
  }

  #cancelTimer(): void {
    this.#timer?.cancel()
    this.#timer = undefined
  }

  /** The timer's work: renew while that extends the token, else log in again; failures retry while the token lives. */
  async #background(): Promise<void> {
    this.#timer = undefined
    const state = this.#state
    if (this.#closed || state === undefined) return
    try {
      if (state.renewable && !state.capped) await this.#renew(state)
      else await this.#acquireFresh(state)
    } catch {
      if (this.#state !== state) return
      const remainingMs = this.#remainingMs(state)
      if (remainingMs > MIN_REMAINING_MS) this.#arm(Math.min(MAX_RETRY_MS, remainingMs / 3))
    }
  }

  /** A new login in place of a token that cannot be extended (shared with callers that need one now). */
  async #acquireFresh(state: TokenState): Promise<void> {
    if (this.#acquiring !== undefined) {
      await this.#acquiring
      return
    }
    this.#acquiring = this.#login().finally(() => { this.#acquiring = undefined })
    const next = await this.#acquiring
    if (next.token === state.token && this.#state === next && next.expiresAtMs !== undefined && next.expiresAtMs <= (state.expiresAtMs ?? 0)) {
      // The same token again (method "token" re-reads what the user holds): it cannot be replaced, let it run out.
      this.#cancelTimer()
    }
  }
}

