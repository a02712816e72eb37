// ERR_INTERNAL where it really arises: a source with a bug throws something that is not a
// CcredError, and the broker turns it into a coded error that says "a bug", keeps the cause,
// and shows it in status, instead of a crash or an uncoded message.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Broker, type BrokerProfile } from '../../src/broker/broker.js'
import { FakeClock } from '../../src/clock.js'
import { CcredError, EXIT_CODES } from '../../src/errors.js'
import type { Source } from '../../src/sources/source.js'

describe('ERR_INTERNAL', () => {
  it('a source that throws a TypeError: ERR_INTERNAL naming the profile, a bug-report hint, the cause kept, shown in status', async () => {
    const clock = new FakeClock(Date.UTC(2026, 10, 30))
    const bug = new TypeError("Cannot read properties of undefined (reading 'token')")
    const source: Source = { fetch: async () => { throw bug } }
    const broker = new Broker({ clock, settings: () => ({ skewMs: 60_000, reissueIntervalMs: 10_000 }), random: () => 0.5 })
    const profile: BrokerProfile = {
      key: 'buggy#1', name: 'buggy', sourceKind: 'buggy', header: 'authorization', source,
      context: { profile: 'buggy', clock, resolve: async () => { throw new Error('no references here') } },
    }
    try {
      const error = await broker.get({ profile, callerTtlMs: 300_000 }).then(() => assert.fail('expected a failure'), (e: unknown) => e)
      assert.ok(error instanceof CcredError)
      assert.equal(error.code, 'ERR_INTERNAL')
      assert.equal(EXIT_CODES[error.code], 1)
      assert.equal(error.message, "profile buggy: Cannot read properties of undefined (reading 'token')")
      assert.match(error.hint ?? '', /this is a bug in ccred; please report it/)
      // The original error stays reachable for the log and a bug report.
      let cause: unknown = error.cause
      while (cause instanceof CcredError) cause = cause.cause
      assert.equal(cause, bug)
      assert.equal(broker.status().find((s) => s.profile === 'buggy')?.lastError?.code, 'ERR_INTERNAL')
    } finally {
      broker.close()
    }
  })
})
