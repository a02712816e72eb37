// The token manager on a fake clock with injected login and renew functions: when it renews,
// when it logs in again, and what it does when Vault fails in between.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FakeClock } from '../../src/clock.js'
import { CcredError } from '../../src/errors.js'
import type { VaultLogin } from '../../src/vault/auth/login.js'
import { VaultTokenManager } from '../../src/vault/tokens.js'

const MINUTE = 60_000
const settle = async () => { for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r)) }

/** A Vault whose tokens have a TTL, a max TTL and may fail on demand. */
function fakeVault(clock: FakeClock, role: { ttlMs: number; maxTtlMs: number; renewable: boolean; renewGrantMs?: number }) {
  const calls: string[] = []
  const issued = new Map<string, number>()
  let n = 0
  let failRenew = 0
  let failLogin = 0
  const login = async (): Promise<VaultLogin> => {
    calls.push('login')
    if (failLogin > 0) { failLogin--; throw new CcredError('ERR_SOURCE_UNAVAILABLE', 'vault: approle login: Vault is sealed (503)') }
    const token = `t${++n}`
    issued.set(token, clock.now())
    return { token, ttlMs: role.ttlMs, renewable: role.renewable, policies: ['default'] }
  }
  const renewSelf = async (token: string, incrementS: number): Promise<VaultLogin> => {
    calls.push(`renew ${token} ${incrementS}`)
    if (failRenew > 0) { failRenew--; throw new CcredError('ERR_SOURCE_UNAVAILABLE', 'vault: token renew-self: internal error (500)') }
    const leftMs = issued.get(token)! + role.maxTtlMs - clock.now()
    // Vault "is not required to honor" the increment: with renewGrantMs it grants that instead.
    return { token, ttlMs: Math.min(role.renewGrantMs ?? incrementS * 1000, leftMs), renewable: true, policies: ['default'] }
  }
  return { calls, login, renewSelf, failRenewNext: (k: number) => { failRenew = k }, failLoginNext: (k: number) => { failLogin = k } }
}

describe('vault token manager', () => {
  it('renews at 2/3 of the TTL with the TTL first granted, and logs in again once renewals are capped by the max TTL', async () => {
    const clock = new FakeClock()
    const vault = fakeVault(clock, { ttlMs: 30 * MINUTE, maxTtlMs: 70 * MINUTE, renewable: true })
    const tokens = new VaultTokenManager({ clock, login: vault.login, renewSelf: vault.renewSelf })
    assert.equal(await tokens.token(), 't1')
    assert.equal(await tokens.token(), 't1', 'kept in memory')
    clock.advance(20 * MINUTE)
    await settle()
    assert.deepEqual(vault.calls, ['login', 'renew t1 1800'])
    clock.advance(20 * MINUTE) // 40 min: renew again (30 min asked, 30 left: not capped)
    await settle()
    clock.advance(20 * MINUTE) // 60 min: 10 min left before max: capped
    await settle()
    assert.deepEqual(vault.calls.slice(2), ['renew t1 1800', 'renew t1 1800'])
    assert.equal(tokens.status().expiresAt, new Date(clock.now() + 10 * MINUTE).toISOString())
    clock.advance(7 * MINUTE) // 2/3 of the 10 min left: a new login
    await settle()
    assert.equal(vault.calls.at(-1), 'login')
    assert.equal(await tokens.token(), 't2')
    assert.equal(tokens.status().logins, 2)
    assert.equal(tokens.status().renewals, 3)
  })

  it('a Vault that grants less than the increment asked: renewals go on while they extend the token, no login', async () => {
    const clock = new FakeClock()
    const vault = fakeVault(clock, { ttlMs: 60 * MINUTE, maxTtlMs: 24 * 60 * MINUTE, renewable: true, renewGrantMs: 45 * MINUTE })
    const tokens = new VaultTokenManager({ clock, login: vault.login, renewSelf: vault.renewSelf })
    assert.equal(await tokens.token(), 't1')
    let expiresAtMs = Date.parse(tokens.status().expiresAt!)
    for (let renewal = 1; renewal <= 6; renewal++) {
      // Renewed at 2/3 of what is left: derived from the expiry the manager reports, not a fixed time.
      clock.advance(((expiresAtMs - clock.now()) * 2) / 3)
      await settle()
      assert.equal(vault.calls.at(-1), 'renew t1 3600', `renewal ${renewal} asks for the TTL first granted`)
      const nextExpiresAtMs = Date.parse(tokens.status().expiresAt!)
      assert.equal(nextExpiresAtMs, clock.now() + 45 * MINUTE, 'the shorter grant is what the token has')
      assert.ok(nextExpiresAtMs > expiresAtMs)
      expiresAtMs = nextExpiresAtMs
      assert.equal(await tokens.token(), 't1')
    }
    assert.equal(tokens.status().logins, 1, 'a shorter grant is not a cap: no new login')
    assert.equal(tokens.status().renewals, 6)
  })

  it('a token that is not renewable is replaced by a login before it runs out', async () => {
    const clock = new FakeClock()
    const vault = fakeVault(clock, { ttlMs: 15 * MINUTE, maxTtlMs: 15 * MINUTE, renewable: false })
    const tokens = new VaultTokenManager({ clock, login: vault.login, renewSelf: vault.renewSelf })
    await tokens.token()
    clock.advance(10 * MINUTE)
    await settle()
    assert.deepEqual(vault.calls, ['login', 'login'])
    assert.equal(await tokens.token(), 't2')
  })

  it('a failed background renewal retries while the token lives; concurrent callers share one login', async () => {
    const clock = new FakeClock()
    const vault = fakeVault(clock, { ttlMs: 30 * MINUTE, maxTtlMs: 10 * 60 * MINUTE, renewable: true })
    const tokens = new VaultTokenManager({ clock, login: vault.login, renewSelf: vault.renewSelf })
    const [a, b, c] = await Promise.all([tokens.token(), tokens.token(), tokens.token()])
    assert.deepEqual([a, b, c], ['t1', 't1', 't1'])
    assert.deepEqual(vault.calls, ['login'])
    vault.failRenewNext(1)
    clock.advance(20 * MINUTE)
    await settle()
    assert.equal(tokens.status().lastError?.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal(await tokens.token(), 't1', 'still valid: still handed out')
    clock.advance(30_000) // retry after min(30 s, a third of what is left)
    await settle()
    assert.deepEqual(vault.calls, ['login', 'renew t1 1800', 'renew t1 1800'])
    assert.equal(tokens.status().expiresAt, new Date(clock.now() + 30 * MINUTE).toISOString())
  })

  it('an expired token is never handed out: the next caller logs in; a refused token is dropped at once', async () => {
    const clock = new FakeClock()
    const vault = fakeVault(clock, { ttlMs: 30 * MINUTE, maxTtlMs: 30 * MINUTE, renewable: true })
    const tokens = new VaultTokenManager({ clock, login: vault.login, renewSelf: vault.renewSelf })
    await tokens.token()
    vault.failRenewNext(100)
    vault.failLoginNext(100)
    clock.advance(31 * MINUTE)
    await settle()
    vault.failLoginNext(0)
    assert.equal(await tokens.token(), 't2')
    tokens.invalidate('t2')
    assert.equal(await tokens.token(), 't3')
    tokens.close()
    assert.equal(clock.pendingTimers, 0, 'close stops renewing')
  })
})
