/**
 * Time as a dependency. The broker asks the clock for "now" and for timers, so
 * tests advance a FakeClock instead of sleeping until a credential expires.
 */
export interface TimerHandle {
  cancel(): void
}

export interface Clock {
  now(): number
  /** Calls fn after delayMs. Real timers are unref'd: a pending refresh never keeps a process alive. */
  setTimer(fn: () => void, delayMs: number): TimerHandle
}

/** Node's own timers cap at 2^31-1 ms; longer delays are clamped (the timer re-arms on fire). */
const MAX_TIMER_MS = 2_147_483_647

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    const timer = setTimeout(fn, Math.min(Math.max(0, delayMs), MAX_TIMER_MS))
    timer.unref()
    return { cancel: () => clearTimeout(timer) }
  },
}

interface PendingTimer {
  dueAtMs: number
  order: number
  fn: () => void
  cancelled: boolean
}

/** A clock that only moves when told to; `advance` fires due timers in order. */
export class FakeClock implements Clock {
  #nowMs: number
  #timers: PendingTimer[] = []
  #order = 0

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#nowMs = startMs
  }

  now(): number {
    return this.#nowMs
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer: PendingTimer = { dueAtMs: this.#nowMs + Math.max(0, delayMs), order: this.#order++, fn, cancelled: false }
    this.#timers.push(timer)
    return { cancel: () => { timer.cancelled = true } }
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length
  }

  /** Moves time forward by ms, firing each due timer at its own due time. */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms
    for (;;) {
      const due = this.#timers
        .filter((t) => !t.cancelled && t.dueAtMs <= targetMs)
        .sort((a, b) => a.dueAtMs - b.dueAtMs || a.order - b.order)[0]
      if (due === undefined) break
      due.cancelled = true
      this.#nowMs = due.dueAtMs
      due.fn()
    }
    this.#timers = this.#timers.filter((t) => !t.cancelled)
    this.#nowMs = targetMs
  }
}
