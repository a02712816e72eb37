import { Broker, type BrokerProfile } from '../src/broker/broker.js'
import { FORCED_REFILL_MS, refreshAgeMs } from '../src/broker/budget.js'
import { FakeClock } from '../src/clock.js'
import { CcredError } from '../src/errors.js'
import type { Credential } from '../src/credential.js'
import type { Source } from '../src/sources/source.js'
import { int, isMain, log, printMachine, type Log } from './lib.js'

/**
 * The upstream budget (issue 12): fetches per simulated hour through the real
 * Broker on a FakeClock with a counting source of 10-minute credentials, for
 * callers that used to hammer the upstream, against the ideal of one fetch per
 * refresh period. Takes a few seconds of real time.
 */

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const LIFETIME_MS = 10 * MINUTE
const SKEW_MS = MINUTE
const DEFAULT_TTL_MS = 5 * MINUTE

export interface BudgetScenario {
  label: string
  gets: number
  fetches: number
  /** One fetch per refresh period of a well-behaved caller (TTL 5 min): 3600 s / 180 s. */
  ideal: number
  errors: number
}

class CountingSource implements Source {
  readonly kind = 'bench'
  fetches = 0
  constructor(readonly clock: FakeClock, readonly failing: boolean) {}
  async fetch(): Promise<Credential> {
    this.fetches++
    if (this.failing) throw new CcredError('ERR_SOURCE_UNAVAILABLE', 'upstream down')
    return { kind: 'token', value: `token-${this.fetches}`, expiresAt: new Date(this.clock.now() + LIFETIME_MS) }
  }
}

interface Call {
  atMs: number
  callerTtlMs: number
  forceRefresh?: boolean
  callerPid?: number
  /** When the caller asks next, if it keeps asking. */
  next?: (atMs: number) => number | undefined
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Runs the calls for one simulated hour; every caller re-asks per its `next`. */
async function simulate(label: string, calls: Call[], failing = false): Promise<BudgetScenario> {
  const clock = new FakeClock(Date.UTC(2026, 10, 30, 0, 0, 0))
  const source = new CountingSource(clock, failing)
  let seed = 42
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const broker = new Broker({ clock, settings: () => ({ skewMs: SKEW_MS, reissueIntervalMs: 10_000 }), random })
  const profile: BrokerProfile = { key: 'bench#1', name: 'bench', sourceKind: 'bench', header: 'authorization', source, context: { profile: 'bench', clock, resolve: async () => '' } }
  const startMs = clock.now()
  const queue = calls.map((call) => ({ ...call, atMs: startMs + call.atMs }))
  let gets = 0
  let errors = 0
  // A second at a time, letting background refreshes finish (and re-arm) as they would on a real clock.
  const moveTo = async (targetMs: number) => {
    while (clock.now() < targetMs) {
      clock.advance(Math.min(1000, targetMs - clock.now()))
      await settle()
    }
  }
  for (;;) {
    queue.sort((a, b) => a.atMs - b.atMs)
    const call = queue.shift()
    if (call === undefined || call.atMs >= startMs + HOUR) break
    await moveTo(call.atMs)
    gets++
    const request = { profile, callerTtlMs: call.callerTtlMs, ...(call.forceRefresh ? { forceRefresh: true } : {}), ...(call.callerPid === undefined ? {} : { callerPid: call.callerPid }) }
    await broker.get(request).catch(() => { errors++ })
    const nextAtMs = call.next?.(call.atMs)
    if (nextAtMs !== undefined) queue.push({ ...call, atMs: nextAtMs })
  }
  await moveTo(startMs + HOUR)
  broker.close()
  const ideal = HOUR / refreshAgeMs(LIFETIME_MS, DEFAULT_TTL_MS + SKEW_MS)
  return { label, gets, fetches: source.fetches, ideal, errors }
}

export async function benchUpstreamBudget(options: { sessions?: number; out?: Log } = {}): Promise<BudgetScenario[]> {
  const out = options.out ?? log
  const sessions = options.sessions ?? 20
  const every = (ms: number) => (atMs: number) => atMs + ms
  const scenarios: BudgetScenario[] = [
    await simulate('TTL ≈ lifetime − skew (539500 for 10-min credentials): one get, then silence', [{ atMs: 0, callerTtlMs: 539_500 }]),
    await simulate('TTL ≈ lifetime − skew: a Claude Code session re-asking every TTL', [{ atMs: 0, callerTtlMs: 539_500, next: every(539_500) }]),
    await simulate('`get --refresh` storm: 10 per second for the hour', [{ atMs: 0, callerTtlMs: DEFAULT_TTL_MS, forceRefresh: true, next: every(100) }]),
    await simulate('failing source, nothing cached: 10 gets per second', [{ atMs: 0, callerTtlMs: DEFAULT_TTL_MS, next: every(100) }], true),
    await simulate('a script calling `get` every second (default TTL)', [{ atMs: 0, callerTtlMs: DEFAULT_TTL_MS, next: every(1000) }]),
    await simulate(`${sessions} Claude Code sessions (TTL 5 min, each re-asking every TTL)`, Array.from({ length: sessions }, (_, i) => ({
      atMs: Math.floor((i * DEFAULT_TTL_MS) / sessions), callerTtlMs: DEFAULT_TTL_MS, callerPid: 1000 + i, next: every(DEFAULT_TTL_MS),
    }))),
  ]
  out(`upstream budget: fetches per simulated hour, 10-minute credentials, skew 60 s (FakeClock, real broker); forced refreshes refill one per ${FORCED_REFILL_MS / 1000} s`)
  for (const s of scenarios) out(`  ${s.label}: ${int(s.gets)} gets → ${int(s.fetches)} fetches${s.errors > 0 ? ` (${int(s.errors)} gets answered with the remembered error)` : ''}; ideal ${int(s.ideal)}`)
  return scenarios
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchUpstreamBudget()
}
