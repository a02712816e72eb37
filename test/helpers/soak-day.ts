import { Broker, type BrokerProfile, type GetResult } from '../../src/broker/broker.js'
import { DEMAND_MEMORY_MS, refreshAgeMs } from '../../src/broker/budget.js'
import { FakeClock } from '../../src/clock.js'
import { parseConfig } from '../../src/profiles/load.js'
import { resolveReference } from '../../src/config/references.js'
import { jwtSource, type JwtOptions } from '../../src/sources/jwt.js'
import type { Source } from '../../src/sources/source.js'
import { CountingSource } from './counting-source.js'
import { testSourceDeps } from './source-deps.js'

/**
 * The soak simulation shared by test/unit/soak.test.ts (which asserts) and
 * bench/soak.ts (which prints). A simulated day of Claude Code sessions asking for 5-minute tokens, on a
 * FakeClock (no sleeping). The clock is moved event by event (the next caller or the
 * next refresh-ahead, whichever comes first), so a refresh completes at the time it
 * was due, as it would on a real clock with a fast source.
 */

export const SECOND = 1000
export const MINUTE = 60 * SECOND
export const DAY_MS = 24 * 60 * MINUTE
export const SKEW_MS = MINUTE
export const DEFAULT_TTL_MS = 300_000
export const LIFETIME_MS = 5 * MINUTE

/** A seeded PRNG (mulberry32): the same "random" day on every run, so a failure can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The refresh-ahead period for a value of `lifetimeMs` when the most demanding caller
 * needs `minValidityMs` (TTL + skew): the broker's own rule (src/broker/budget.ts), a lead
 * before the value stops satisfying that caller, or at 40 % of its life when the budget
 * cannot keep it covered.
 */
export function refreshPeriodMs(lifetimeMs: number, minValidityMs: number): number {
  return Math.max(refreshAgeMs(lifetimeMs, minValidityMs), 1000)
}

export interface Arrival {
  atMs: number
  ttlMs: number
  callerPid?: number
}

/**
 * Sessions that each re-run the helper every TTL (as Claude Code does), starting at a
 * random time, plus one-off callers (a person's `ccred get`, no session pid) at random times.
 */
export function schedule(random: () => number, startMs: number, sessions: { ttlMs: number; count: number }[], oneOffs: number): Arrival[] {
  const arrivals: Arrival[] = []
  let pid = 1000
  for (const { ttlMs, count } of sessions) {
    for (let i = 0; i < count; i++) {
      const callerPid = pid++
      // Sessions start in the first hour and last until a random point of the day.
      const fromMs = startMs + Math.floor(random() * 60 * MINUTE)
      const untilMs = fromMs + Math.floor((0.5 + random() / 2) * (DAY_MS - 60 * MINUTE))
      for (let at = fromMs; at <= untilMs; at += ttlMs) arrivals.push({ atMs: at, ttlMs, callerPid })
    }
  }
  for (let i = 0; i < oneOffs; i++) {
    arrivals.push({ atMs: startMs + Math.floor(random() * DAY_MS), ttlMs: random() < 0.5 ? DEFAULT_TTL_MS : 30 * SECOND })
  }
  return arrivals.sort((a, b) => a.atMs - b.atMs)
}

export interface DayResult {
  gets: number
  fetches: number
  firstAtMs: number
  endMs: number
  hits: number
  notHits: string[]
  expired: number
  tooShort: string[]
  /** When each minimum validity (TTL + skew) was last asked for: refresh-ahead stops once they are all forgotten. */
  lastAskedAtMs: Map<number, number>
  /** The fake-clock time of every upstream fetch, in order: what the broker actually did. */
  fetchTimesMs: number[]
}

/** Runs one simulated day through a real Broker; `fetches()` reads the source's own count. */
export async function simulateDay(clock: FakeClock, untimedSource: Source, fetches: () => number, arrivals: Arrival[], lifetimeMs: number): Promise<DayResult> {
  const fetchTimesMs: number[] = []
  const source: Source = { fetch: async (ctx) => { fetchTimesMs.push(clock.now()); return untimedSource.fetch(ctx) } }
  const broker = new Broker({ clock, settings: () => ({ skewMs: SKEW_MS, reissueIntervalMs: 10_000 }), random: () => 0.5 })
  const profile: BrokerProfile = {
    key: 'soak#1', name: 'soak', sourceKind: 'soak', header: 'authorization', source,
    context: {
      profile: 'soak', clock,
      resolve: (ref, key) => resolveReference(ref, `profiles.soak.${key}`, {
        env: { SOAK_JWT_KEY: 'soak-hs256-key-for-a-simulated-day-0123456789' }, homeDir: '/nonexistent',
        readFile: async () => { throw new Error('no files here') }, storeGet: async () => undefined, storeDescription: 'no store',
      }, 'soak'),
    },
  }
  // A refresh in progress finishes before the clock moves on. The source answers at once, but its
  // first use may load a module (jose) from disk: bounded in real time, not in event-loop turns.
  const settle = async () => {
    const deadlineMs = Date.now() + 10_000
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (!broker.status().some((s) => s.refreshing)) return
      if (Date.now() > deadlineMs) throw new Error('a refresh did not finish within 10 s')
    }
  }
  const endMs = arrivals[0]!.atMs + DAY_MS
  const result: DayResult = { gets: 0, fetches: 0, firstAtMs: arrivals[0]!.atMs, endMs, hits: 0, notHits: [], expired: 0, tooShort: [], lastAskedAtMs: new Map(), fetchTimesMs }
  const moveTo = async (targetMs: number) => {
    for (;;) {
      const next = broker.status()[0]?.nextRefreshAt
      const nextMs = next === undefined ? Infinity : Date.parse(next)
      if (nextMs > targetMs) break
      clock.advance(Math.max(0, nextMs - clock.now()))
      await settle()
    }
    clock.advance(targetMs - clock.now())
    await settle()
  }
  for (const arrival of arrivals) {
    if (arrival.atMs > endMs) break
    await moveTo(arrival.atMs)
    const got: GetResult = await broker.get({ profile, callerTtlMs: arrival.ttlMs, ...(arrival.callerPid === undefined ? {} : { callerPid: arrival.callerPid }) })
    result.gets++
    result.lastAskedAtMs.set(arrival.ttlMs + SKEW_MS, clock.now())
    if (got.served === 'hit') result.hits++
    else if (result.gets > 1) result.notHits.push(`${new Date(clock.now()).toISOString()}: ${got.served}`)
    const remainingMs = got.credential.expiresAt!.getTime() - clock.now()
    if (remainingMs <= 0) result.expired++
    // The value outlives the caller's TTL + skew; a source whose values never can (5 min < 5 min
    // + 1 min) is served until half its life (docs/daemon.md#how-the-broker-serves-a-credential).
    const needMs = arrival.ttlMs + SKEW_MS
    const okMs = lifetimeMs >= needMs ? needMs : lifetimeMs / 2
    if (remainingMs < okMs && result.tooShort.length < 5) result.tooShort.push(`${new Date(clock.now()).toISOString()}: ${remainingMs} ms left, needed ${okMs} (ttl ${arrival.ttlMs})`)
  }
  await moveTo(endMs)
  result.fetches = fetches()
  broker.close()
  return result
}

/** One fetch per refresh period while the refresh target is still remembered (the upstream budget forgets idle demands). */
export function expectedFetches(result: DayResult, lifetimeMs: number, minValidityMs: number): number {
  const lastAskedAtMs = result.lastAskedAtMs.get(minValidityMs) ?? result.endMs
  const untilMs = Math.min(result.endMs, lastAskedAtMs + Math.max(DEMAND_MEMORY_MS, 2 * minValidityMs))
  return 1 + Math.floor((untilMs - result.firstAtMs) / refreshPeriodMs(lifetimeMs, minValidityMs))
}

export function describeDay(label: string, result: DayResult, expected: number): string {
  return (`soak ${label}: ${result.gets} gets over 24 h, ${result.hits} hits, ${result.fetches} fetches (expected ${expected}), ${result.expired} expired, ${result.notHits.length} blocking after the first`)
}

export async function jwtSourceWith(lifetime: string): Promise<Source> {
  const toml = `[profiles.soak]\nsource = "jwt"\n[profiles.soak.jwt]\nalgorithm = "HS256"\nkey = "env:SOAK_JWT_KEY"\nlifetime = "${lifetime}"\n`
  const config = await parseConfig(toml, '/cfg/config.toml', { path: '/cfg/config.toml', fromFile: true, stamp: 's' })
  const invalid = config.invalidProfiles.get('soak')
  if (invalid !== undefined) throw invalid
  return jwtSource.create(config.profiles.get('soak')!.source.options as JwtOptions, testSourceDeps())
}

export function countingFetches(source: Source): { source: Source; fetches: () => number } {
  let fetches = 0
  return {
    source: { fetch: async (ctx) => { fetches++; return source.fetch(ctx) } },
    fetches: () => fetches,
  }
}

/** The day of the soak test: default-TTL sessions, short-TTL sessions and one-off callers, the first with the default TTL. */
export async function mixedDay(kind: 'counting' | 'jwt', startMs: number): Promise<{ result: DayResult; expected: number; minValidityMs: number }> {
  const clock = new FakeClock(startMs)
  const random = seeded(kind === 'counting' ? 42 : 7)
  // The first caller has the default TTL, so the refresh target (the largest TTL + skew asked for) is set from the start.
  const arrivals = [
    { atMs: startMs, ttlMs: DEFAULT_TTL_MS, callerPid: 999 },
    ...schedule(random, startMs + 1, [{ ttlMs: DEFAULT_TTL_MS, count: 6 }, { ttlMs: 60 * SECOND, count: 3 }, { ttlMs: 10 * SECOND, count: 1 }], 200),
  ]
  const counted = kind === 'counting'
    ? (() => { const s = new CountingSource(clock, LIFETIME_MS); return { source: s as Source, fetches: () => s.fetches } })()
    : countingFetches(await jwtSourceWith('5m'))
  const minValidityMs = DEFAULT_TTL_MS + SKEW_MS
  const result = await simulateDay(clock, counted.source, counted.fetches, arrivals, LIFETIME_MS)
  return { result, expected: expectedFetches(result, LIFETIME_MS, minValidityMs), minValidityMs }
}

/** Only short-TTL (60 s) sessions: values outlive TTL + skew, so the lead rule applies instead of the half-life one. */
export async function shortTtlDay(startMs: number): Promise<{ result: DayResult; expected: number; minValidityMs: number }> {
  const clock = new FakeClock(startMs)
  const random = seeded(3)
  const ttlMs = 60 * SECOND
  const arrivals = [{ atMs: startMs, ttlMs, callerPid: 999 }, ...schedule(random, startMs + 1, [{ ttlMs, count: 8 }], 0)]
  const source = new CountingSource(clock, LIFETIME_MS)
  const minValidityMs = ttlMs + SKEW_MS
  const result = await simulateDay(clock, source, () => source.fetches, arrivals, LIFETIME_MS)
  return { result, expected: expectedFetches(result, LIFETIME_MS, minValidityMs), minValidityMs }
}
