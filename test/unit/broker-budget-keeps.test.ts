// The upstream budget belongs to the profile, not to the cache entry: purge, a config
// reload and a new key drop the value but keep the bucket and the backoff. Before, each
// purge + get was a free upstream call (issue 22: 20 rounds, 20 calls in 1.6 s).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Broker, type BrokerProfile } from '../../src/broker/broker.js'
import { FORCED_BUCKET_CAPACITY, FORCED_REFILL_MS } from '../../src/broker/budget.js'
import { FakeClock } from '../../src/clock.js'
import { CcredError } from '../../src/errors.js'
import type { TokenCredential } from '../../src/credential.js'
import type { Source } from '../../src/sources/source.js'

const MINUTE = 60_000
/** Twenty rounds, 80 ms apart: the 1.6 s of the report. */
const ROUNDS = 20
const ROUND_GAP_MS = 80

class CountingSource implements Source {
  readonly kind = 'test'
  fetches = 0
  constructor(readonly clock: FakeClock, readonly failing: boolean) {}
  async fetch(): Promise<TokenCredential> {
    this.fetches++
    if (this.failing) throw new CcredError('ERR_SOURCE_UNAVAILABLE', 'upstream down', { hint: 'wait' })
    return { kind: 'token', value: `token-${this.fetches}`, expiresAt: new Date(this.clock.now() + 60 * MINUTE) }
  }
}

function setup(failing: boolean) {
  const clock = new FakeClock()
  const source = new CountingSource(clock, failing)
  const broker = new Broker({ clock, settings: () => ({ skewMs: MINUTE, reissueIntervalMs: 10_000 }), random: () => 0.5 })
  const profile = (key = 'p#1'): BrokerProfile => ({ key, name: 'p', sourceKind: 'test', header: 'authorization', source, context: { profile: 'p', clock, resolve: async () => 'unused' } })
  const get = async (key?: string) => {
    try {
      return await broker.get({ profile: profile(key), callerTtlMs: 5 * MINUTE })
    } catch (error) {
      return error as CcredError
    }
  }
  return { clock, source, broker, get }
}

/** At most the first fetch, a full bucket, and what the bucket refills over the span. */
const bucketBound = (spanMs: number) => 1 + FORCED_BUCKET_CAPACITY + Math.floor(spanMs / FORCED_REFILL_MS)

describe('broker: the budget survives dropping the value', () => {
  it('20 purge + get rounds on a working source stay within the bucket', async () => {
    const { clock, source, broker, get } = setup(false)
    let refused = 0
    for (let round = 0; round < ROUNDS; round++) {
      broker.purge('p')
      const result = await get()
      if (result instanceof CcredError) {
        refused++
        assert.match(result.message, /dropped \(purge\) more often than the upstream budget allows/)
      }
      clock.advance(ROUND_GAP_MS)
    }
    assert.ok(source.fetches <= bucketBound(ROUNDS * ROUND_GAP_MS), `${source.fetches} upstream calls`)
    assert.ok(refused > 0)
  })

  it('a purged value is never served again, even when the bucket is spent', async () => {
    const { broker, get } = setup(false)
    for (let round = 0; round < FORCED_BUCKET_CAPACITY + 1; round++) {
      const before = await get()
      broker.purge('p')
      const after = await get()
      if (!(before instanceof CcredError) && !(after instanceof CcredError)) assert.notEqual((after.credential as TokenCredential).value, (before.credential as TokenCredential).value)
    }
  })

  it('20 purge + get rounds on a failing source: the backoff holds', async () => {
    const { clock, source, broker, get } = setup(true)
    for (let round = 0; round < ROUNDS; round++) {
      broker.purge('p')
      assert.ok(await get() instanceof CcredError)
      clock.advance(ROUND_GAP_MS)
    }
    // Two tries (the first failure may be a blip), then the backoff (1 s, then 2 s, …) over 1.6 s.
    assert.ok(source.fetches <= 3, `${source.fetches} upstream calls`)
  })

  it('a new key (config reload or edit) keeps the backoff and the bucket', async () => {
    const { clock, source, broker, get } = setup(true)
    for (let round = 0; round < ROUNDS; round++) {
      broker.retain(new Map([['p', `p#${round + 2}`]]))
      assert.ok(await get(`p#${round + 2}`) instanceof CcredError)
      clock.advance(ROUND_GAP_MS)
    }
    assert.ok(source.fetches <= 3, `${source.fetches} upstream calls`)
  })
})
