// What the vault source needs from the broker: a soft refresh time for values that do not
// expire (re-read in the background, the cached value kept on failure), and a context that
// says when a fetch is forced (--refresh, or a 401/407 re-issue).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Broker, type BrokerProfile } from '../../src/broker/broker.js'
import { FakeClock } from '../../src/clock.js'
import { CcredError } from '../../src/errors.js'
import type { TokenCredential } from '../../src/credential.js'
import type { FetchContext, Source } from '../../src/sources/source.js'

const MINUTE = 60_000
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

class SoftSource implements Source {
  readonly kind = 'test'
  readonly contexts: FetchContext[] = []
  failNext = 0
  constructor(readonly clock: FakeClock, readonly refreshMs: number, readonly lifetimeMs?: number) {}

  async fetch(ctx: FetchContext): Promise<TokenCredential> {
    this.contexts.push(ctx)
    if (this.failNext > 0) {
      this.failNext--
      throw new CcredError('ERR_SOURCE_UNAVAILABLE', 'vault: Vault is sealed (503)')
    }
    const credential: TokenCredential = { kind: 'token', value: `v-${this.contexts.length}`, refreshAt: new Date(this.clock.now() + this.refreshMs) }
    if (this.lifetimeMs !== undefined) credential.expiresAt = new Date(this.clock.now() + this.lifetimeMs)
    return credential
  }
}

function setup(refreshMs: number, lifetimeMs?: number) {
  const clock = new FakeClock()
  const source = new SoftSource(clock, refreshMs, lifetimeMs)
  const broker = new Broker({ clock, settings: () => ({ skewMs: MINUTE, reissueIntervalMs: 10_000 }), random: () => 0.5 })
  const profile: BrokerProfile = {
    key: 'p#1', name: 'p', sourceKind: 'test', header: 'authorization', source,
    context: { profile: 'p', clock, resolve: async () => 'unused' },
  }
  const get = async (extra: { forceRefresh?: boolean; callerPid?: number; rejected?: boolean } = {}) => {
    const result = await broker.get({ profile, callerTtlMs: 5 * MINUTE, ...extra })
    assert.equal(result.credential.kind, 'token')
    return result as typeof result & { credential: TokenCredential }
  }
  return { clock, source, broker, get }
}

describe('broker: soft refresh (refreshAt)', () => {
  it('a value without expiry is re-read in the background at its refresh time, and callers get the new one from cache', async () => {
    const { clock, source, broker, get } = setup(5 * MINUTE)
    assert.equal((await get()).credential.value, 'v-1')
    assert.equal(broker.status()[0]!.nextRefreshAt, new Date(clock.now() + 5 * MINUTE).toISOString())
    clock.advance(5 * MINUTE - 1)
    await settle()
    assert.equal(source.contexts.length, 1, 'not before it is due')
    clock.advance(1)
    await settle()
    assert.equal(source.contexts.length, 2)
    const next = await get()
    assert.equal(next.served, 'hit')
    assert.equal(next.credential.value, 'v-2')
  })

  it('a failed soft refresh keeps serving the value, shows the error, and retries with backoff', async () => {
    const { clock, source, broker, get } = setup(5 * MINUTE)
    await get()
    source.failNext = 1
    clock.advance(5 * MINUTE)
    await settle()
    const status = broker.status()[0]!
    assert.equal(status.lastError?.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal(status.consecutiveFailures, 1)
    assert.equal((await get()).credential.value, 'v-1', 'the value does not expire: still served')
    clock.advance(1000)
    await settle()
    assert.equal(source.contexts.length, 3, 'retried after the backoff')
    assert.equal((await get()).credential.value, 'v-3')
    assert.equal(broker.status()[0]!.lastError, undefined)
  })

  it('with an expiry as well, whichever comes first drives the refresh', async () => {
    const { clock, source, get } = setup(2 * MINUTE, 60 * MINUTE)
    await get()
    clock.advance(2 * MINUTE)
    await settle()
    assert.equal(source.contexts.length, 2, 'the soft refresh at 2 min, long before refresh-ahead at 53 min')
  })
})

describe('broker: the source learns whether a fetch is forced', () => {
  it('ordinary and background fetches are not forced; --refresh and a signalled refusal are', async () => {
    const { clock, source, get } = setup(5 * MINUTE)
    await get()
    clock.advance(5 * MINUTE)
    await settle()
    await get({ forceRefresh: true })
    await get({ callerPid: 42, rejected: true })
    assert.deepEqual(source.contexts.map((ctx) => ctx.forced === true), [false, false, true, true])
    assert.ok(source.contexts.every((ctx) => ctx.profile === 'p' && ctx.clock === clock), 'the rest of the context is the profile\'s')
  })
})
