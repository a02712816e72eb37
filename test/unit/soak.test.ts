import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeDay, MINUTE, mixedDay, SECOND, shortTtlDay, type DayResult } from '../helpers/soak-day.js'

/**
 * Soak: a simulated day of Claude Code sessions asking for 5-minute tokens through a
 * real Broker on a FakeClock (no sleeping); see test/helpers/soak-day.ts for the day.
 */

// Whole seconds: the jwt source's expiry has whole seconds, so its lifetime is exactly 5 min.
const startMs = Date.UTC(2026, 10, 22, 0, 0, 0)

/**
 * The broker's refresh-ahead, checked against the period docs/daemon.md's rule gives (worked out by
 * hand below), not against a copy of the broker's formula: every fetch after the first comes
 * exactly one period after the one before, and the day holds as many as fit while some caller's
 * demand is remembered.
 */
function assertRefreshedEvery(result: DayResult, periodMs: number): void {
  const gapsMs = result.fetchTimesMs.slice(1).map((atMs, i) => atMs - result.fetchTimesMs[i]!)
  const offSchedule = gapsMs.map((gapMs, i) => ({ gapMs, at: new Date(result.fetchTimesMs[i + 1]!).toISOString() })).filter(({ gapMs }) => gapMs !== periodMs)
  assert.deepEqual(offSchedule.slice(0, 5), [], `fetches ${periodMs / 1000} s apart`)
  // The budget of docs/daemon.md#upstream-budget: a caller's TTL drives refresh-ahead for an hour after it last asked
  // (longer only for credentials living longer than that, not these 5-minute ones).
  const lastAskedAtMs = Math.max(...result.lastAskedAtMs.values())
  const demandEndsMs = Math.min(result.endMs, lastAskedAtMs + 60 * MINUTE)
  const expected = 1 + Math.floor((demandEndsMs - result.firstAtMs) / periodMs)
  assert.equal(result.fetches, result.fetchTimesMs.length, 'the source counted what the broker asked for')
  assert.equal(result.fetches, expected, `${result.fetches} fetches, expected ${expected}`)
}

function assertDay(result: DayResult): void {
  assert.equal(result.expired, 0, 'no expired value handed out')
  assert.deepEqual(result.tooShort, [], 'every value outlives TTL + skew, or half its life for a source that cannot')
  assert.deepEqual(result.notHits, [], 'every get after the first is a cache hit')
}

describe('soak: a simulated 24 h of 5-minute tokens', () => {
  for (const kind of ['counting', 'jwt'] as const) {
    it(`${kind} source, default TTL sessions + short-TTL sessions + one-off callers: nothing expired, nothing blocking, refreshes on schedule`, async () => {
      const { result, expected } = await mixedDay(kind, startMs)
      process.stdout.write(`${describeDay(kind, result, expected)}\n`)
      assert.ok(result.gets > 2000, `a busy day: ${result.gets} gets`)
      assertDay(result)
      // 5-minute values never satisfy TTL 5 min + skew 1 min: refreshed at 40 % of their life, every 2 min.
      assertRefreshedEvery(result, 2 * MINUTE)
    })
  }

  it('counting source, only short-TTL callers (60 s): values outlive TTL + skew, refreshed a lead before they stop doing so', async () => {
    const { result, expected } = await shortTtlDay(startMs)
    process.stdout.write(`${describeDay('counting, 60 s TTL', result, expected)}\n`)
    assert.ok(result.gets > 2000, `a busy day: ${result.gets} gets`)
    assertDay(result)
    // 5 min values, TTL 60 s + skew 60 s: usable 3 min; the lead is the least of 60 s, a tenth of
    // the life (30 s) and half the usable time (90 s), so 30 s: a fetch every 2.5 min.
    assertRefreshedEvery(result, 150 * SECOND)
  })
})
