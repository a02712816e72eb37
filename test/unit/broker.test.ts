import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Broker, type BrokerEvent, type BrokerProfile } from '../../src/broker/broker.js'
import { DEMAND_MEMORY_MS, FORCED_BUCKET_CAPACITY, FORCED_REFILL_MS, REFRESH_FLOOR_FRACTION, SHORT_LIVED_REFRESH_FRACTION, SHORT_LIVED_SERVE_FRACTION } from '../../src/broker/budget.js'
import { decideCaller } from '../../src/callers/registry.js'
import type { Header } from '../../src/config/settings.js'
import { FakeClock } from '../../src/clock.js'
import { parseConfig } from '../../src/profiles/load.js'
import { CcredError } from '../../src/errors.js'
import type { TokenCredential } from '../../src/credential.js'
import type { Source } from '../../src/sources/source.js'
import { CountingSource } from '../helpers/counting-source.js'

const MINUTE = 60_000
const TTL_MS = 5 * MINUTE
const SKEW_MS = MINUTE

/** The advice the service passes the broker for a plain script (the default caller kind): Claude Code's TTL variable for the profile's header. */
function scriptAdvice(header: Header): (safeTtlMs: number) => string {
  return decideCaller({ marks: {}, headerSet: false, interactive: false }, header).shortLifetimeAdvice
}

/** lifetimeMs null: the source's values never expire. */
function setup(lifetimeMs: number | null = 10 * MINUTE, options: { reissueIntervalMs?: number } = {}) {
  const clock = new FakeClock()
  const source = new CountingSource(clock, lifetimeMs)
  const events: BrokerEvent[] = []
  const broker = new Broker({
    clock,
    settings: () => ({ skewMs: SKEW_MS, reissueIntervalMs: options.reissueIntervalMs ?? 10_000 }),
    onEvent: (event) => events.push(event),
    random: () => 0.5,
  })
  const profile: BrokerProfile = {
    key: 'p#1', name: 'p', sourceKind: 'test', header: 'authorization', source,
    context: { profile: 'p', clock, resolve: async () => 'unused' },
  }
  /** `callerPid`: the holder (its key); `quickRepeat`: the caller's decision reads a quick repeat as a refusal (within half its TTL, as Claude Code's apiKeyHelper). */
  const get = async ({ callerPid, quickRepeat, ...extra }: { callerPid?: number; quickRepeat?: boolean; forceRefresh?: boolean; callerTtlMs?: number; clientStartedAtMs?: number; rejected?: boolean } = {}) => {
    const callerTtlMs = extra.callerTtlMs ?? TTL_MS
    return tokenResult(await broker.get({
      profile, callerTtlMs, shortLifetimeAdvice: scriptAdvice(profile.header), ...extra,
      ...(callerPid === undefined ? {} : { callerPid, callerKey: String(callerPid) }),
      ...(quickRepeat === true ? { reissueOnQuickRepeat: { withinMs: callerTtlMs / 2 } } : {}),
    }))
  }
  return { clock, source, broker, profile, get, events }
}

/** The test sources make tokens only. */
function tokenResult<T extends { credential: unknown }>(result: T): T & { credential: TokenCredential } {
  assert.equal((result.credential as TokenCredential).kind, 'token')
  return result as T & { credential: TokenCredential }
}

/** Lets pending promise callbacks (a background refresh) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('broker: TTL-aware validity', () => {
  it('serves from cache while the value outlives TTL + skew, and fetches once less than that remains', async () => {
    const { clock, get } = setup(10 * MINUTE)
    const first = await get()
    assert.equal(first.served, 'fetch')
    assert.equal(first.credential.value, 'token-1')
    clock.advance(3 * MINUTE) // 7 min left > 6 min needed: but the refresh-ahead timer fires at 3 min
    await settle()
    // With the refresh-ahead timer at expiry - (TTL + skew) - lead, a new token is already there.
    const second = await get()
    assert.equal(second.served, 'hit')
    assert.ok(second.credential.expiresAt!.getTime() - clock.now() >= TTL_MS + SKEW_MS)
  })

  it('never returns a value with less than TTL + skew left, at any point of its life', async () => {
    const { clock, get } = setup(10 * MINUTE)
    for (let step = 0; step < 40; step++) {
      const result = await get()
      const remainingMs = result.credential.expiresAt!.getTime() - clock.now()
      assert.ok(remainingMs >= TTL_MS + SKEW_MS, `step ${step}: ${remainingMs} ms left`)
      clock.advance(37_000)
      await settle()
    }
  })

  it('without refresh-ahead help (timer not yet due), a too-short value causes a blocking fetch', async () => {
    const { clock, source, get } = setup(10 * MINUTE)
    await get({ callerTtlMs: 0 }) // minimum validity 1 min: timer far in the future
    assert.equal(source.fetches, 1)
    clock.advance(4.5 * MINUTE) // 5.5 min left: fine for TTL 0, too short for TTL 5 min
    const result = await get()
    assert.equal(result.served, 'fetch')
    assert.equal(source.fetches, 2)
    assert.equal(result.credential.value, 'token-2')
  })

  it('honours the caller TTL: a longer TTL needs a longer-lived value', async () => {
    const { source, get } = setup(10 * MINUTE)
    await get({ callerTtlMs: 5 * MINUTE }) // within the safe TTL of a 10-min value (5m30s): no warning yet
    const again = await get({ callerTtlMs: 9 * MINUTE + 1 }) // 9 min + skew > 10 min lifetime: short-lived path
    assert.equal(source.fetches, 1, 'a value younger than half its life is kept for a source that cannot do better')
    assert.ok(again.warning?.includes('CLAUDE_CODE_API_KEY_HELPER_TTL_MS'), again.warning)
  })

  it('a non-expiring value is cached until re-issue or refresh', async () => {
    const { clock, source, get } = setup(null)
    await get()
    clock.advance(1000 * MINUTE)
    assert.equal((await get()).served, 'hit')
    assert.equal(source.fetches, 1)
    assert.equal((await get({ forceRefresh: true })).credential.value, 'token-2')
  })
})

describe('broker: refresh-ahead', () => {
  it('mints before any caller has to wait (lifetime 10 min, TTL 5 min, skew 60 s)', async () => {
    const { clock, source, get, events } = setup(10 * MINUTE)
    await get()
    clock.advance(3 * MINUTE - 1)
    await settle()
    assert.equal(source.fetches, 1, 'not before it is due')
    clock.advance(1)
    await settle()
    assert.equal(source.fetches, 2, 'the timer fetched at expiry - (TTL + skew) - lead')
    assert.ok(events.some((e) => e.type === 'refresh-ahead' && e.ok))
    clock.advance(MINUTE) // the first token now has 6 min left; the caller gets the new one without waiting
    const result = await get()
    assert.equal(result.served, 'hit')
    assert.equal(result.credential.value, 'token-2')
  })

  it('failed refreshes back off with jitter while the still-valid value keeps being served', async () => {
    const { clock, source, broker, get, events } = setup(10 * MINUTE)
    await get()
    source.failNext = 3
    clock.advance(3 * MINUTE)
    await settle()
    assert.equal(source.fetches, 2)
    const failures = events.filter((e) => e.type === 'refresh-ahead' && !e.ok)
    assert.equal(failures.length, 1)
    const firstRetryMs = (failures[0] as { retryInMs: number }).retryInMs
    assert.ok(firstRetryMs >= 500 && firstRetryMs <= 1000, `first retry in ${firstRetryMs} ms`)
    const status = broker.status()[0]!
    assert.equal(status.lastError?.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal(status.consecutiveFailures, 1)
    // Still valid for TTL + skew: served from cache, no waiting, no error.
    const during = await get()
    assert.equal(during.served, 'hit')
    assert.equal(during.credential.value, 'token-1')
    clock.advance(firstRetryMs)
    await settle()
    const secondFailure = events.filter((e) => e.type === 'refresh-ahead' && !e.ok)[1] as { retryInMs: number }
    assert.ok(secondFailure.retryInMs > firstRetryMs, 'the backoff grows')
    clock.advance(secondFailure.retryInMs)
    await settle()
    const third = events.filter((e) => e.type === 'refresh-ahead' && !e.ok)[2] as { retryInMs: number }
    clock.advance(third.retryInMs)
    await settle()
    assert.equal(source.fetches, 5)
    const recovered = broker.status()[0]!
    assert.equal(recovered.consecutiveFailures, 0)
    assert.equal(recovered.lastError, undefined)
    assert.equal((await get()).credential.value, 'token-5')
  })

  it('during a backoff a value that has expired is never served: the remembered error instead', async () => {
    const { clock, source, broker, get } = setup(10 * MINUTE)
    const first = await get()
    const expiresAtMs = first.credential.expiresAt!.getTime()
    source.failNext = Infinity
    // Refresh-ahead fails again and again; step the clock until the value has expired
    // while the broker is backing off (no upstream call allowed).
    const inBackoff = () => {
      const backoffUntil = broker.status()[0]!.budget!.backoffUntil
      // Two failures in a row: from then on a foreground get waits for the backoff too.
      return broker.status()[0]!.consecutiveFailures >= 2 && backoffUntil !== undefined && Date.parse(backoffUntil) > clock.now()
    }
    clock.advance(expiresAtMs - clock.now() + 1)
    await settle()
    // An hour of fake seconds at most, so a broken backoff fails here instead of looping.
    for (let s = 0; s < 3600 && !inBackoff(); s++) {
      clock.advance(1000)
      await settle()
    }
    assert.ok(inBackoff(), 'the broker backs off after repeated failures')
    assert.ok(clock.now() > expiresAtMs)
    const fetchesBefore = source.fetches
    await assert.rejects(get(), (error: CcredError) => {
      assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE')
      assert.match(error.message, /upstream down \(failed \d+ times; retrying in \d+ s\)$/)
      return true
    })
    assert.equal(source.fetches, fetchesBefore, 'no upstream call during the backoff')
  })

  it('a config change (new key) drops the old entry and its timer', async () => {
    const { clock, source, broker, get } = setup(10 * MINUTE)
    await get()
    assert.equal(clock.pendingTimers, 1)
    broker.retain(new Map([['p', 'p#2']]))
    assert.equal(clock.pendingTimers, 0)
    assert.equal(broker.status().length, 0)
    clock.advance(20 * MINUTE)
    await settle()
    assert.equal(source.fetches, 1)
  })
})

describe('broker: single-flight', () => {
  it('100 concurrent gets on a cold profile cause exactly one fetch', async () => {
    const { source, get } = setup(10 * MINUTE)
    let open!: () => void
    source.gate = new Promise((resolve) => { open = resolve })
    const results = Array.from({ length: 100 }, () => get())
    await settle()
    open()
    const values = new Set((await Promise.all(results)).map((r) => r.credential.value))
    assert.equal(source.fetches, 1)
    assert.deepEqual([...values], ['token-1'])
  })

  it('a forced refresh does not join an ordinary fetch, and the older, slower fetch never overwrites the newer value', async () => {
    const { source, get } = setup(10 * MINUTE)
    let openFirst!: () => void
    source.gate = new Promise((resolve) => { openFirst = resolve })
    const slow = get()
    await settle()
    source.gate = undefined
    const forced = await get({ forceRefresh: true })
    assert.equal(forced.credential.value, 'token-2')
    openFirst()
    const slowResult = await slow
    assert.equal(slowResult.credential.value, 'token-2', 'the waiter of the older fetch gets the newer value')
    assert.equal((await get()).credential.value, 'token-2')
  })

  it('concurrent forced refreshes share one fetch', async () => {
    const { source, get } = setup(10 * MINUTE)
    await get()
    const results = await Promise.all(Array.from({ length: 10 }, () => get({ forceRefresh: true })))
    assert.equal(source.fetches, 2)
    assert.ok(results.every((r) => r.credential.value === 'token-2'))
  })

  it('a failing fetch reaches every waiter and is shown in status', async () => {
    const { source, broker, get } = setup(10 * MINUTE)
    source.failNext = 1
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => get()))
    assert.equal(source.fetches, 1)
    for (const result of results) {
      assert.equal(result.status, 'rejected')
      assert.equal(((result as PromiseRejectedResult).reason as CcredError).code, 'ERR_SOURCE_UNAVAILABLE')
      assert.match(((result as PromiseRejectedResult).reason as CcredError).message, /^profile p: upstream down/)
    }
    assert.equal(broker.status()[0]!.lastError?.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal((await get()).credential.value, 'token-2')
  })
})

describe('broker: 401-aware re-issue', () => {
  /** The caller's decision when its kind reads a quick repeat as a 401 (Claude Code's apiKeyHelper: src/callers/claude-code.ts). */
  const claudeCode = { quickRepeat: true }

  it('only a caller whose decision says so is re-issued on a quick repeat: any other is served from the cache', async () => {
    const { clock, source, get } = setup(10 * MINUTE)
    const first = await get({ callerPid: 4242 })
    clock.advance(1000)
    const script = await get({ callerPid: 4242 })
    assert.equal(script.served, 'hit', 'a script asking twice')
    assert.equal(script.credential.value, first.credential.value)
    assert.equal(source.fetches, 1)
    clock.advance(1000)
    assert.equal((await get({ ...claudeCode, callerPid: 4242 })).served, 'reissue', 'Claude Code\'s apiKeyHelper asking again early')
    assert.equal(source.fetches, 2)
  })

  it('the same caller asking again well inside the TTL gets a new value', async () => {
    const { clock, source, broker, get } = setup(10 * MINUTE)
    const first = await get({ ...claudeCode, callerPid: 4242 })
    clock.advance(1000) // Claude Code re-runs the helper about 1 s after a 401
    const second = await get({ ...claudeCode, callerPid: 4242 })
    assert.equal(second.served, 'reissue')
    assert.notEqual(second.credential.value, first.credential.value)
    assert.equal(source.fetches, 2)
    assert.equal(broker.status()[0]!.reissues, 1)
  })

  it('other callers and callers past the quick-repeat window get the cached value', async () => {
    const { clock, source, get } = setup(10 * MINUTE)
    await get({ ...claudeCode, callerPid: 1 })
    assert.equal((await get({ ...claudeCode, callerPid: 2 })).served, 'hit', 'another Claude Code session')
    assert.equal((await get()).served, 'hit', 'no caller known')
    clock.advance(2.5 * MINUTE) // half the TTL: a normal re-run, not a 401
    assert.equal((await get({ ...claudeCode, callerPid: 1 })).served, 'hit')
    assert.equal(source.fetches, 1)
  })

  it('requests already in flight when the value was given are not a re-run (the client started before)', async () => {
    const { clock, source, get } = setup(10 * MINUTE)
    const startedAtMs = clock.now()
    clock.advance(30)
    await get({ ...claudeCode, callerPid: 11, clientStartedAtMs: startedAtMs })
    clock.advance(5)
    const concurrent = await get({ ...claudeCode, callerPid: 11, clientStartedAtMs: startedAtMs })
    assert.equal(concurrent.served, 'hit')
    clock.advance(1000)
    const rerun = await get({ ...claudeCode, callerPid: 11, clientStartedAtMs: clock.now() - 30 })
    assert.equal(rerun.served, 'reissue', 'a process started after the value was given')
    assert.equal(source.fetches, 2)
  })

  it('is rate-limited per profile', async () => {
    const { clock, source, get } = setup(10 * MINUTE, { reissueIntervalMs: 10_000 })
    await get({ ...claudeCode, callerPid: 7 })
    clock.advance(1000)
    assert.equal((await get({ ...claudeCode, callerPid: 7 })).served, 'reissue')
    clock.advance(1000)
    assert.equal((await get({ ...claudeCode, callerPid: 7 })).served, 'hit', 'within the interval: the same value again')
    clock.advance(10_000)
    assert.equal((await get({ ...claudeCode, callerPid: 7 })).served, 'reissue')
    assert.equal(source.fetches, 3)
  })

  it('a caller that was given an older value gets the current one without a re-issue', async () => {
    const { clock, source, get } = setup(10 * MINUTE)
    await get({ ...claudeCode, callerPid: 9 })
    await get({ forceRefresh: true })
    clock.advance(1000)
    const result = await get({ ...claudeCode, callerPid: 9 })
    assert.equal(result.served, 'hit')
    assert.equal(result.credential.value, 'token-2')
    assert.equal(source.fetches, 2)
  })
})

describe('broker: a refusal the caller reports (proxyAuthHelper after a 407)', () => {
  it('re-issues at once, whatever the process start time, and 1 s apart at most', async () => {
    const { clock, source, get } = setup(10 * MINUTE, { reissueIntervalMs: 10_000 })
    const startedAtMs = clock.now()
    await get({ callerPid: 5, rejected: false })
    const refused = await get({ callerPid: 5, rejected: true, clientStartedAtMs: startedAtMs })
    assert.equal(refused.served, 'reissue', 'the caller says so: no inference needed')
    assert.equal(refused.credential.value, 'token-2')
    assert.equal((await get({ callerPid: 5, rejected: true })).served, 'hit', 'a second refusal inside 1 s: bounded')
    clock.advance(1000)
    assert.equal((await get({ callerPid: 5, rejected: true })).served, 'reissue', 'well inside the inferred interval of 10 s')
    assert.equal(source.fetches, 3)
  })

  it('a caller that says "not refused" is never re-issued, however soon it asks again', async () => {
    const { clock, source, get } = setup(10 * MINUTE)
    await get({ callerPid: 6, rejected: false })
    clock.advance(1000)
    const again = await get({ callerPid: 6, rejected: false, clientStartedAtMs: clock.now() })
    assert.equal(again.served, 'hit')
    assert.equal(source.fetches, 1)
  })

  it('two sessions refused the same value: one fetch, and both get the new value', async () => {
    const { clock, source, get } = setup(10 * MINUTE)
    await get({ callerPid: 21 })
    await get({ callerPid: 22 })
    clock.advance(2000)
    const first = await get({ callerPid: 21, rejected: true })
    const second = await get({ callerPid: 22, rejected: true })
    assert.equal(first.served, 'reissue')
    assert.equal(second.served, 'hit')
    assert.equal(second.credential.value, first.credential.value)
    assert.equal(source.fetches, 2)
  })
})

describe('broker: refresh-ahead of values barely longer-lived than callers need', () => {
  // Issue 12 replaced "refreshed about once a second" (the loop the budget forbids) with the budget's floor.
  it('a 2-minute value, callers needing 1m58s: refreshed at 40 % of its life, not in a loop', async () => {
    const clock = new FakeClock()
    const source = new CountingSource(clock, 2 * MINUTE)
    const broker = new Broker({ clock, settings: () => ({ skewMs: 117_000, reissueIntervalMs: 10_000 }) })
    const profile: BrokerProfile = { key: 'p#1', name: 'p', sourceKind: 'test', header: 'authorization', source, context: { profile: 'p', clock, resolve: async () => 'unused' } }
    const first = await broker.get({ profile, callerTtlMs: 1000 })
    assert.match(first.warning ?? '', /too short for any helper TTL/, 'no TTL is safe with a skew of 1m57s: the caller is told')
    for (let stepMs = 0; stepMs < 10 * MINUTE; stepMs += 100) {
      clock.advance(100)
      await settle()
      const result = await broker.get({ profile, callerTtlMs: 1000 })
      const remainingMs = result.credential.expiresAt!.getTime() - clock.now()
      assert.ok(remainingMs >= 2 * MINUTE * (1 - SHORT_LIVED_SERVE_FRACTION), `every value served is younger than half its life (${remainingMs} ms left)`)
    }
    const periodMs = 2 * MINUTE * SHORT_LIVED_REFRESH_FRACTION
    assert.ok(source.fetches <= 1 + (10 * MINUTE) / periodMs, `${source.fetches} fetches in 10 min: at most one per ${periodMs} ms`)
    broker.close()
  })
})

describe('broker: the upstream budget (issue 12)', () => {
  it('600 s credentials and one get with TTL 539500, then silence: no refresh loop, and the demand is forgotten', async () => {
    const clock = new FakeClock()
    const source = new CountingSource(clock, 10 * MINUTE)
    const broker = new Broker({ clock, settings: () => ({ skewMs: SKEW_MS, reissueIntervalMs: 10_000 }), random: () => 0.5 })
    const profile: BrokerProfile = { key: 'p#1', name: 'p', sourceKind: 'test', header: 'authorization', source, context: { profile: 'p', clock, resolve: async () => 'unused' } }
    const first = await broker.get({ profile, callerTtlMs: 539_500, shortLifetimeAdvice: scriptAdvice(profile.header) })
    assert.match(first.warning ?? '', /CLAUDE_CODE_API_KEY_HELPER_TTL_MS=330000/, 'the TTL it suggests is the safe one')
    for (let s = 0; s < 8; s++) {
      clock.advance(1000)
      await settle()
    }
    assert.equal(source.fetches, 1, 'not 8 fetches in 8 s')
    for (let m = 0; m < 60; m++) {
      clock.advance(MINUTE)
      await settle()
    }
    const afterHour = source.fetches
    const periodMs = 10 * MINUTE * SHORT_LIVED_REFRESH_FRACTION
    assert.ok(afterHour <= 1 + (DEMAND_MEMORY_MS + 2 * 599_500) / periodMs, `${afterHour} fetches in the first hour (the loop made ~3600)`)
    for (let m = 0; m < 60; m++) {
      clock.advance(MINUTE)
      await settle()
    }
    assert.equal(source.fetches, afterHour, 'a TTL asked once does not drive refreshes forever')
    assert.equal(broker.status()[0]!.nextRefreshAt, undefined)
    broker.close()
  })

  it('5-minute credentials and the TTL 240000 the old warning suggested: gets every second are hits', async () => {
    const clock = new FakeClock()
    const source = new CountingSource(clock, 5 * MINUTE)
    const broker = new Broker({ clock, settings: () => ({ skewMs: SKEW_MS, reissueIntervalMs: 10_000 }), random: () => 0.5 })
    const profile: BrokerProfile = { key: 'p#1', name: 'p', sourceKind: 'test', header: 'authorization', source, context: { profile: 'p', clock, resolve: async () => 'unused' } }
    const served: string[] = []
    for (let i = 0; i < 11; i++) {
      served.push((await broker.get({ profile, callerTtlMs: 240_000 })).served)
      clock.advance(1000)
      await settle()
    }
    assert.equal(source.fetches, 1, `served: ${served.join(',')}`)
    broker.close()
  })

  it('a --refresh storm draws from the bucket: 70 in 10 s make at most capacity + refills fetches', async () => {
    const { clock, source, broker, get } = setup(10 * MINUTE)
    await get()
    const warnings: string[] = []
    for (let i = 0; i < 70; i++) {
      const result = await get({ forceRefresh: true })
      if (result.warning !== undefined) warnings.push(result.warning)
      clock.advance(143)
      await settle()
    }
    const refills = Math.floor(70 * 143 / FORCED_REFILL_MS)
    assert.ok(source.fetches - 1 <= FORCED_BUCKET_CAPACITY + refills, `${source.fetches - 1} forced fetches`)
    assert.ok(source.fetches - 1 >= FORCED_BUCKET_CAPACITY, 'the bucket allows a burst')
    assert.match(warnings[0] ?? '', /refresh budget spent .* next forced refresh in/)
    const budget = broker.status()[0]!.budget!
    assert.equal(budget.forcedCapacity, FORCED_BUCKET_CAPACITY)
    assert.ok(budget.forcedTokens < FORCED_BUCKET_CAPACITY)
  })

  it("the budget's bucket: budget.ts's defaults when [broker] names none, the config's when it does", async () => {
    const meta = { path: '/nonexistent/config.toml', fromFile: true, stamp: '' }
    const bucketOf = async (brokerTable: string) => {
      const config = await parseConfig(`${brokerTable}[profiles.p]\nsource = "static"\ntoken = "env:NONE"\n`, 'test', meta)
      const clock = new FakeClock()
      const broker = new Broker({ clock, settings: () => config.broker, random: () => 0.5 })
      const profile: BrokerProfile = {
        key: 'p#1', name: 'p', sourceKind: 'test', header: 'authorization', source: new CountingSource(clock, 10 * MINUTE),
        context: { profile: 'p', clock, resolve: async () => 'unused' },
      }
      await broker.get({ profile, callerTtlMs: TTL_MS })
      const { forcedCapacity, forcedRefillMs } = broker.status()[0]!.budget!
      broker.close()
      return { forcedCapacity, forcedRefillMs }
    }
    assert.deepEqual(await bucketOf(''), { forcedCapacity: FORCED_BUCKET_CAPACITY, forcedRefillMs: FORCED_REFILL_MS })
    assert.deepEqual(await bucketOf('[broker]\nskew = "30s"\n\n'), { forcedCapacity: FORCED_BUCKET_CAPACITY, forcedRefillMs: FORCED_REFILL_MS })
    assert.deepEqual(await bucketOf('[broker]\nforced_refresh_burst = 7\nforced_refresh_every = "2m"\n\n'), { forcedCapacity: 7, forcedRefillMs: 120_000 })
  })

  it('after an idle hour a --refresh storm still gets at most the bucket\'s capacity of forced fetches', async () => {
    const { clock, source, get } = setup(null)
    await get()
    clock.advance(60 * MINUTE) // an hour of refills, which the bucket must not hoard
    await settle()
    const before = source.fetches
    for (let i = 0; i < 20; i++) {
      await get({ forceRefresh: true })
      await settle()
    }
    assert.equal(source.fetches - before, FORCED_BUCKET_CAPACITY)
  })

  it('10-minute credentials and TTL 390 s: refresh-ahead waits for the ¼-lifetime floor (renews at 40 %, not at 90 s)', async () => {
    // TTL + skew = 450 s and a 60 s lead would renew at 90 s of a 600 s life; the floor
    // (150 s) forbids that, so such a caller's values are renewed at 40 % (240 s).
    const { clock, source, get } = setup(10 * MINUTE)
    const fetchedAtMs = clock.now()
    await get({ callerTtlMs: 390_000 })
    clock.advance(10 * MINUTE * REFRESH_FLOOR_FRACTION - 1)
    await settle()
    assert.equal(source.fetches, 1, 'no refresh before a quarter of the lifetime')
    clock.advance(fetchedAtMs + 10 * MINUTE * SHORT_LIVED_REFRESH_FRACTION - clock.now() - 1)
    await settle()
    assert.equal(source.fetches, 1)
    clock.advance(1)
    await settle()
    assert.equal(source.fetches, 2, 'renewed at 40 % of the lifetime')
  })

  it('a failing source with nothing cached: 130 gets in 10 s make a handful of upstream calls, each get says when it retries', async () => {
    const { clock, source, broker, get } = setup(10 * MINUTE)
    source.failNext = Infinity
    const messages: string[] = []
    for (let i = 0; i < 130; i++) {
      await get().then(() => assert.fail('no value to give'), (error: CcredError) => messages.push(error.message))
      clock.advance(77)
      await settle()
    }
    // Backoff: retry n waits at least half of base·2^(n-1): within 10 s at most ~log2(10 s / 0.5 s) + 2 calls.
    assert.ok(source.fetches <= 2 + Math.ceil(Math.log2(10_000 / 500)), `${source.fetches} upstream calls for 130 gets`)
    assert.ok(messages.filter((m) => /retrying in \d+ s/.test(m)).length >= 120, 'the remembered error says when it retries')
    assert.ok(broker.status()[0]!.budget!.backoffUntil !== undefined)
  })

  it('a forgotten large demand leaves the refresh-ahead to the callers still asking', async () => {
    const { clock, source, get } = setup(10 * MINUTE)
    await get({ callerTtlMs: 539_500 })
    // A script asks every minute with the default TTL.
    for (let m = 0; m < 120; m++) {
      clock.advance(MINUTE)
      await settle()
      const result = await get()
      assert.ok(result.credential.expiresAt!.getTime() - clock.now() >= TTL_MS + SKEW_MS, 'the script always gets TTL + skew')
    }
    // Ideal for 10-min credentials and a 6-min need: one fetch per 3 min = 40 in 2 h; the larger demand costs a few more at first.
    assert.ok(source.fetches <= 40 + DEMAND_MEMORY_MS / (10 * MINUTE * SHORT_LIVED_REFRESH_FRACTION) + 2, `${source.fetches} fetches in 2 h`)
  })
})

describe('broker: refusals and status', () => {
  it('refuses a credential with a newline or control character, or an expired one', async () => {
    for (const value of ['a\nb', 'a\rb', 'a\u0001b', ' padded ', '']) {
      const clock = new FakeClock()
      const broker = new Broker({ clock, settings: () => ({ skewMs: SKEW_MS, reissueIntervalMs: 10_000 }) })
      const source: Source = { fetch: async () => ({ kind: 'token', value }) }
      const profile: BrokerProfile = { key: 'k', name: 'bad', sourceKind: 'test', header: 'authorization', source, context: { profile: 'bad', clock, resolve: async () => '' } }
      await assert.rejects(broker.get({ profile, callerTtlMs: TTL_MS }), (error: CcredError) => {
        assert.equal(error.code, 'ERR_SOURCE_OUTPUT')
        assert.ok(!error.message.includes(value) || value === '', 'the value is not echoed')
        return true
      })
    }
    const clock = new FakeClock()
    const broker = new Broker({ clock, settings: () => ({ skewMs: SKEW_MS, reissueIntervalMs: 10_000 }) })
    const expired: Source = { fetch: async () => ({ kind: 'token', value: 'x', expiresAt: new Date(clock.now() - 1) }) }
    await assert.rejects(
      broker.get({ profile: { key: 'k', name: 'old', sourceKind: 'test', header: 'authorization', source: expired, context: { profile: 'old', clock, resolve: async () => '' } }, callerTtlMs: TTL_MS }),
      /already expired/,
    )
  })

  it('status shows facts, never the secret; purge forgets the value', async () => {
    const { broker, get } = setup(10 * MINUTE)
    const { credential } = await get()
    await get()
    const [status] = broker.status()
    assert.equal(status!.cached, true)
    assert.equal(status!.hits, 1)
    assert.equal(status!.fetches, 1)
    assert.equal(status!.expiresAt, credential.expiresAt!.toISOString())
    assert.ok(!JSON.stringify(broker.status()).includes(credential.value))
    assert.equal(broker.purge('p'), true)
    assert.equal(broker.status().length, 0)
  })

  it('warns once when the source cannot outlive the caller TTL, with the TTL to set', async () => {
    const { get, broker } = setup(4 * MINUTE)
    const first = await get()
    // The safe TTL for 4-min credentials (issue 12: one rule, see safeHelperTtlMs): 240·3/4 − 24 − 60 = 96 s.
    assert.match(first.warning ?? '', /credentials live 4m, too short for the helper TTL 5m \+ skew 1m \(the largest safe TTL is 1m36s\); set CLAUDE_CODE_API_KEY_HELPER_TTL_MS=96000/)
    const second = await get()
    assert.equal(second.warning, undefined, 'once')
    assert.match(broker.status()[0]!.warning ?? '', /CLAUDE_CODE_API_KEY_HELPER_TTL_MS=96000/)
  })

  it('names the proxyAuthHelper TTL variable for a proxy-authorization profile (the hook setup claude makes of it)', async () => {
    const { broker, profile } = setup(4 * MINUTE)
    const first = await broker.get({ profile: { ...profile, header: 'proxy-authorization' }, callerTtlMs: TTL_MS, shortLifetimeAdvice: scriptAdvice('proxy-authorization') })
    assert.match(first.warning ?? '', /set CLAUDE_CODE_PROXY_AUTH_HELPER_TTL_MS=96000/)
  })

  it('a caller that brings no advice is told the safe TTL in general terms, never a variable of an agent', async () => {
    const { broker, profile } = setup(4 * MINUTE)
    const first = await broker.get({ profile, callerTtlMs: TTL_MS })
    assert.match(first.warning ?? '', /\(the largest safe TTL is 1m36s\); lower the caller's TTL to 1m36s \(or lengthen the credential's lifetime\) \[WARN_SHORT_LIFETIME\]$/)
  })
})
