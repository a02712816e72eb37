// The upstream budget's arithmetic on its own (src/broker/budget.ts): exact numbers, no broker.
// Written against the mutants Stryker found surviving the broker tests (docs/mutation.md).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BACKOFF_MAX_MS, backoffMs, coversWithinBudget, DEMAND_MEMORY_MS, Demands, TokenBucket } from '../../src/broker/budget.js'

const T0 = 1_000_000

describe('budget: the forced-refresh token bucket', () => {
  it('a burst of capacity, then one token per refill period, exactly when nextTokenAtMs says', () => {
    const bucket = new TokenBucket(T0, 3, 10_000)
    assert.equal(bucket.nextTokenAtMs(T0), T0, 'a token is there now')
    for (let i = 0; i < 3; i++) assert.equal(bucket.take(T0), true)
    assert.equal(bucket.take(T0), false)
    assert.equal(bucket.nextTokenAtMs(T0), T0 + 10_000)
    assert.equal(bucket.nextTokenAtMs(T0 + 2_500), T0 + 10_000, 'a quarter refilled: still due at the same time')
    assert.equal(bucket.tokens(T0 + 9_999), 0)
    assert.equal(bucket.take(T0 + 9_999), false)
    assert.equal(bucket.take(T0 + 10_000), true)
    assert.equal(bucket.take(T0 + 10_000), false)
  })

  it('a clock that steps back neither adds nor removes tokens', () => {
    const bucket = new TokenBucket(T0, 3, 10_000)
    assert.equal(bucket.tokens(T0 - 5_000), 3)
    assert.equal(bucket.take(T0), true)
    assert.equal(bucket.tokens(T0 - 5_000), 2)
    assert.equal(bucket.tokens(T0 + 10_000), 3)
  })
})

describe('budget: backoff and the refresh floor', () => {
  it('backoff: jitter spans half to all of base·2^(n-1), capped at BACKOFF_MAX_MS', () => {
    assert.equal(backoffMs(1, () => 0), 500)
    assert.equal(backoffMs(1, () => 1), 1000)
    assert.equal(backoffMs(3, () => 1), 4000)
    assert.equal(backoffMs(30, () => 1), BACKOFF_MAX_MS)
    assert.equal(BACKOFF_MAX_MS, 300_000)
  })

  it('a caller need that leaves exactly the ¼-lifetime floor is still covered', () => {
    // 600 s − 390 s − 60 s lead = 150 s = ¼ of 600 s.
    assert.equal(coversWithinBudget(600_000, 390_000), true)
    assert.equal(coversWithinBudget(600_000, 390_001), false)
  })
})

describe('budget: remembered demands', () => {
  it('the largest demand wins, whichever was asked first', () => {
    const small = new Demands()
    small.ask(100_000, T0)
    small.ask(500_000, T0)
    assert.equal(small.current(T0), 500_000)
    const large = new Demands()
    large.ask(500_000, T0)
    large.ask(100_000, T0)
    assert.equal(large.current(T0), 500_000)
  })

  it('a demand is kept for DEMAND_MEMORY_MS after it was asked (twice itself if longer), then forgotten', () => {
    const demands = new Demands()
    assert.equal(demands.expiresAtMs(T0), undefined, 'nobody asked')
    demands.ask(360_000, T0)
    assert.equal(demands.expiresAtMs(T0), T0 + DEMAND_MEMORY_MS)
    assert.equal(demands.current(T0 + DEMAND_MEMORY_MS), 360_000)
    assert.equal(demands.current(T0 + DEMAND_MEMORY_MS + 1), undefined)
    assert.equal(demands.expiresAtMs(T0 + DEMAND_MEMORY_MS + 1), undefined)
    const long = new Demands()
    long.ask(40 * 60_000, T0) // 40 min: remembered for 80 min
    assert.equal(long.current(T0 + 70 * 60_000), 40 * 60_000)
    assert.equal(long.expiresAtMs(T0), T0 + 80 * 60_000)
  })
})
