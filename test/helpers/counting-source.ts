import type { Clock } from '../../src/clock.js'
import type { TokenCredential } from '../../src/credential.js'
import { CcredError } from '../../src/errors.js'
import type { Source } from '../../src/sources/source.js'

/**
 * A source for broker tests: mints numbered tokens (`token-1`, `token-2`, …) that live
 * `lifetimeMs` on the injected clock (null: they never expire). A fetch can be held open
 * (`gate`) or made to fail (`failNext` times; Infinity for a source that stays down).
 */
export class CountingSource implements Source {
  readonly kind = 'test'
  fetches = 0
  failNext = 0
  gate: Promise<void> | undefined
  constructor(readonly clock: Clock, readonly lifetimeMs: number | null) {}

  async fetch(): Promise<TokenCredential> {
    this.fetches++
    const n = this.fetches
    if (this.gate !== undefined) await this.gate
    if (this.failNext > 0) {
      this.failNext--
      throw new CcredError('ERR_SOURCE_UNAVAILABLE', 'upstream down', { hint: 'wait' })
    }
    const credential: TokenCredential = { kind: 'token', value: `token-${n}` }
    if (this.lifetimeMs !== null) credential.expiresAt = new Date(this.clock.now() + this.lifetimeMs)
    return credential
  }
}
