import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeDay, LIFETIME_MS, MINUTE, mixedDay, refreshPeriodMs, SECOND, shortTtlDay, type DayResult } from '../helpers/soak-day.js'

/**
 * Soak: a simulated day of Claude Code sessions asking for 5-minute tokens through a
 * real Broker on a FakeClock (no sleeping); see test/helpers/soak-day.ts for the day.
 */

// Whole seconds: the jwt source's expiry has whole seconds, so its lifetime is exactly 5 min.
const startMs = Date.UTC(2026, 10, 22, 0, 0, 0)

function assertDay(result: DayResult): void {
  assert.equal(result.expired, 0, 'no expired value handed out')
  assert.deepEqual(result.tooShort, [], 'every value outlives TTL + skew, or half its life for a source that cannot')
  assert.deepEqual(result.notHits, [], 'every get after the first is a cache hit')
}

describe('soak: a simulated 24 h of 5-minute tokens', () => {
  for (const kind of ['counting', 'jwt'] as const) {
    it(`${kind} source, default TTL sessions + short-TTL sessions + one-off callers: nothing expired, nothing blocking, refreshes on schedule`, async () => {
      const { result, expected, minValidityMs } = await mixedDay(kind, startMs)
      process.stdout.write(`${describeDay(kind, result, expected)}\n`)
      assert.ok(result.gets > 2000, `a busy day: ${result.gets} gets`)
      assertDay(result)
      // 5-minute values never satisfy TTL 5 min + skew 1 min: refreshed at 40 % of their life, every 2 min.
      assert.equal(refreshPeriodMs(LIFETIME_MS, minValidityMs), 2 * MINUTE)
      assert.ok(Math.abs(result.fetches - expected) <= 1, `${result.fetches} fetches, expected ${expected} ± 1`)
    })
  }

  it('counting source, only short-TTL callers (60 s): values outlive TTL + skew, refreshed a lead before they stop doing so', async () => {
    const { result, expected, minValidityMs } = await shortTtlDay(startMs)
    process.stdout.write(`${describeDay('counting, 60 s TTL', result, expected)}\n`)
    assert.ok(result.gets > 2000, `a busy day: ${result.gets} gets`)
    assertDay(result)
    // usable 3 min, lead min(60 s, 30 s, 90 s) = 30 s: every 2.5 min.
    assert.equal(refreshPeriodMs(LIFETIME_MS, minValidityMs), 150 * SECOND)
    assert.ok(Math.abs(result.fetches - expected) <= 1, `${result.fetches} fetches, expected ${expected} ± 1`)
  })
})
