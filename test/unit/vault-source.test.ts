// The vault source through the real CredentialService and broker, the real node-vault client
// and the Vault test server, on one FakeClock shared by ccred and the server: token renewal
// and re-login, lease renewal and re-read at max TTL, static re-reads, faults while a value is
// cached, field errors.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { makeTlsCertificates } from '../helpers/vault-fixtures.js'
import type { DatabaseRole, VaultTestServer } from '../helpers/vault-server.js'
import { HOUR, MINUTE, reads, rejects, until, world } from '../helpers/vault-world.js'
import { loopbackTcpSkip } from '../helpers/listen.js'

/** A dynamic-secret role "gateway" (database/creds/gateway) and profile db reading its password with a root token. */
async function databaseWorld(role: DatabaseRole) {
  const w = await world((server) => {
    server.databaseRole('gateway', role)
    return '[vault]\nauth = { method = "token", token = "env:T" }\n\n[profiles.db]\nsource = "vault"\n[profiles.db.vault]\npath = "database/creds/gateway"\nfield = "password"\n'
  })
  w.env.T = w.server.createToken()
  return w
}

describe('vault source: KV', { skip: loopbackTcpSkip }, () => {
  it('reads a KV v2 field (mount detected), serves it from cache, and re-reads it every `refresh` to pick up a rotation', async () => {
    const w = await world((server) => {
      server.kvPut('secret/litellm/claude-code', { api_key: 'sk-vault-one', owner: 'platform' })
      return `[vault]\nauth = { method = "token", token = "env:TEST_VAULT_TOKEN" }\n\n[profiles.gw]\nsource = "vault"\n[profiles.gw.vault]\npath = "secret/litellm/claude-code"\nfield = "api_key"\n`
    }, {})
    w.env.TEST_VAULT_TOKEN = w.server.createToken({ policies: ['root'] })
    const first = await w.get('gw')
    assert.equal(first.value, 'sk-vault-one')
    assert.equal(first.served, 'fetch')
    assert.equal(first.expiresAt, undefined, 'a static KV value does not expire')
    assert.equal((await w.get('gw')).served, 'hit')
    assert.equal(reads(w.server, 'secret/data/litellm/claude-code'), 1)
    const status = await w.status('gw')
    assert.equal(status.nextRefreshAt, new Date(w.clock.now() + 5 * MINUTE).toISOString())
    assert.deepEqual({ ...status.meta, vault: undefined }, { vault: undefined, path: 'secret/data/litellm/claude-code', field: 'api_key', engine: 'kv-v2', auth: 'token', version: '1' })

    w.server.kvPut('secret/litellm/claude-code', { api_key: 'sk-vault-two' })
    await w.advance(5 * MINUTE, () => reads(w.server, 'secret/data/litellm/claude-code') === 2)
    await until(async () => (await w.status('gw')).meta?.version === '2', 'the re-read to land')
    const rotated = await w.get('gw')
    assert.equal(rotated.value, 'sk-vault-two')
    assert.equal(rotated.served, 'hit', 'the background re-read replaced the value; get did not wait')
  })

  it('reads KV v1, an explicit kv_version with a path already in API form, and a mount given by hand', async () => {
    const w = await world((server) => {
      server.kvPut('kv/team/gateway', { key: 'sk-v1' })
      server.kvPut('secret/other', { key: 'sk-v2' })
      return [
        '[profiles.v1]\nsource = "vault"\n[profiles.v1.vault]\npath = "kv/team/gateway"\nfield = "key"\nauth = { method = "token", token = "env:T" }\n',
        '[profiles.api]\nsource = "vault"\n[profiles.api.vault]\npath = "secret/data/other"\nfield = "key"\nkv_version = 2\nauth = { method = "token", token = "env:T" }\n',
        '[profiles.mount]\nsource = "vault"\n[profiles.mount.vault]\npath = "secret/other"\nfield = "key"\nkv_version = 2\nmount = "secret"\nauth = { method = "token", token = "env:T" }\n',
      ].join('\n')
    })
    w.env.T = w.server.createToken()
    assert.equal((await w.get('v1')).value, 'sk-v1')
    assert.equal((await w.status('v1')).meta?.engine, 'kv-v1')
    assert.equal((await w.get('api')).value, 'sk-v2')
    assert.equal((await w.get('mount')).value, 'sk-v2')
    assert.equal(w.server.requests.filter((r) => r.path.includes('sys/internal/ui/mounts/secret')).length, 0, 'kv_version skips detection')
  })

  it('a missing field lists the field names (never values); a non-string field is refused; a missing secret is clear', async () => {
    const w = await world((server) => {
      server.kvPut('secret/litellm/key', { api_key: 'sk-hidden-value', team: 'ml', limits: { rpm: 10 } })
      const field = (name: string, f: string, path = 'secret/litellm/key') => `[profiles.${name}]\nsource = "vault"\n[profiles.${name}.vault]\npath = "${path}"\nfield = "${f}"\nauth = { method = "token", token = "env:T" }\n`
      return [field('missing', 'apikey'), field('object', 'limits'), field('nothing', 'api_key', 'secret/litellm/nope')].join('\n')
    })
    w.env.T = w.server.createToken()
    const missing = await rejects(w.get('missing'))
    assert.equal(missing.code, 'ERR_SOURCE_OUTPUT')
    assert.match(missing.message, /secret\/data\/litellm\/key has no field "apikey" \(fields: api_key, limits, team\)/)
    assert.ok(!missing.message.includes('sk-hidden-value') && !missing.message.includes('ml,'), 'no value in the message')
    const object = await rejects(w.get('object'))
    assert.equal(object.code, 'ERR_SOURCE_OUTPUT')
    assert.match(object.message, /field "limits" of secret\/data\/litellm\/key is an object, not a string/)
    const nothing = await rejects(w.get('nothing'))
    assert.equal(nothing.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.match(nothing.message, /read secret\/data\/litellm\/nope: nothing at secret\/data\/litellm\/nope \(404\)/)
  })

  it('permission denied is ERR_SOURCE_DENIED naming the path, with the policy to ask for', async () => {
    const w = await world((server) => {
      server.kvPut('secret/litellm/key', { api_key: 'sk-x' })
      server.policy('other', { 'secret/data/elsewhere/*': ['read'] })
      return '[profiles.gw]\nsource = "vault"\n[profiles.gw.vault]\npath = "secret/litellm/key"\nfield = "api_key"\nkv_version = 2\nauth = { method = "token", token = "env:T" }\n'
    })
    w.env.T = w.server.createToken({ policies: ['other'] })
    const denied = await rejects(w.get('gw'))
    assert.equal(denied.code, 'ERR_SOURCE_DENIED')
    assert.match(denied.message, /^profile gw: vault: read secret\/data\/litellm\/key: permission denied \(403\)$/)
    assert.match(denied.hint ?? '', /vault token capabilities secret\/data\/litellm\/key/)
  })

  it('sends X-Vault-Namespace and reads the namespace\'s own secrets', async () => {
    const w = await world((server) => {
      server.kvPut('secret/gw', { key: 'root-ns-value' })
      server.kvPut('secret/gw', { key: 'team-a-value' }, 'team-a')
      return '[vault]\nnamespace = "team-a"\nauth = { method = "token", token = "env:T" }\n\n[profiles.gw]\nsource = "vault"\n[profiles.gw.vault]\npath = "secret/gw"\nfield = "key"\n'
    })
    w.env.T = w.server.createToken({ namespace: 'team-a' })
    assert.equal((await w.get('gw')).value, 'team-a-value')
    assert.ok(w.server.requests.every((r) => r.namespace === 'team-a'))
  })
})

describe('vault source: faults while a value is cached', { skip: loopbackTcpSkip }, () => {
  async function cachedStatic(extraVault = '') {
    const w = await world((server) => {
      server.kvPut('secret/gw', { key: 'sk-cached' })
      return `[vault]\ntimeout = "300ms"\nauth = { method = "token", token = "env:T" }\n${extraVault}\n[profiles.gw]\nsource = "vault"\n[profiles.gw.vault]\npath = "secret/gw"\nfield = "key"\nrefresh = "1m"\n`
    })
    w.env.T = w.server.createToken()
    assert.equal((await w.get('gw')).value, 'sk-cached')
    return w
  }

  for (const [name, inject, expected] of [
    ['sealed', (s: VaultTestServer) => { s.sealed = true }, /vault: read secret\/data\/gw: Vault is sealed \(503\)/],
    ['a 500', (s: VaultTestServer) => { s.faults.push({ status: 500, errors: ['internal error: storage backend unavailable'] }) }, /storage backend unavailable \(500\)/],
    ['a 429', (s: VaultTestServer) => { s.faults.push({ status: 429, errors: ['request rate limited'] }) }, /request rate limited \(429\)/],
    ['slow (timeout)', (s: VaultTestServer) => { s.faults.push({ delayMs: 3_000 }) }, /Vault at http:\/\/127\.0\.0\.1:\d+ did not answer \(no answer within 300 ms\)/],
  ] as const) {
    it(`Vault ${name}: the cached value keeps being served and status shows the error`, async () => {
      const w = await cachedStatic()
      inject(w.server)
      await w.advance(MINUTE, async () => (await w.status('gw')).lastError !== undefined)
      // No wall-clock bound (it fails under load): a delayed answer not yet sent proves the client gave up on its own timeout.
      for (const fault of w.server.faults) assert.notEqual(fault.delayEnded, true, 'the failure came within the timeout, not after Vault\'s delay')
      const status = await w.status('gw')
      assert.equal(status.lastError?.code, 'ERR_SOURCE_UNAVAILABLE')
      assert.match(status.lastError!.message, expected)
      assert.ok(!status.lastError!.message.includes('sk-cached'))
      const served = await w.get('gw')
      assert.equal(served.value, 'sk-cached')
      assert.equal(served.served, 'hit')
      w.server.faults.length = 0
    })
  }

  it('a dynamic secret past its expiry with Vault sealed: ERR_SOURCE_UNAVAILABLE with Vault\'s words', async () => {
    const w = await databaseWorld({ ttlMs: HOUR, maxTtlMs: 4 * HOUR })
    const first = await w.get('db')
    assert.match(first.value, /^pw-/)
    w.server.sealed = true
    // The refresh-ahead at 53 min fails; 7 min are left, more than the caller's 5 min TTL + 1 min skew.
    await w.advance(53 * MINUTE, async () => (await w.status('db')).lastError !== undefined)
    assert.equal((await w.get('db')).value, first.value, 'still valid for the caller: served')
    w.clock.advance(HOUR)
    const expired = await rejects(w.get('db'))
    assert.equal(expired.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.match(expired.message, /^profile db: vault: read database\/creds\/gateway: Vault is sealed \(503\)$/)
    assert.match(expired.hint ?? '', /sealed/)
  })
})

describe('vault source: leases', { skip: loopbackTcpSkip }, () => {
  it('renews the lease ahead of expiry while renewable, and reads a new secret once renewal hits the max TTL', async () => {
    const w = await databaseWorld({ ttlMs: HOUR, maxTtlMs: 2 * HOUR })
    const first = await w.get('db')
    const lease = (await w.status('db')).meta?.lease
    assert.match(lease ?? '', /^database\/creds\/gateway\//)
    assert.equal(Date.parse(first.expiresAt!), w.clock.now() + HOUR)
    const renewals = () => w.server.requests.filter((r) => r.path === '/v1/sys/leases/renew').length

    // Refresh-ahead at expiry - (TTL 5m + skew 1m) - lead 1m = 53 min: a renewal, same value.
    await w.advance(53 * MINUTE, () => renewals() === 1)
    await until(async () => (await w.status('db')).meta?.renewed !== undefined, 'the renewal to land')
    const renewed = await w.get('db')
    assert.equal(renewed.value, first.value)
    assert.equal(renewed.served, 'hit')
    assert.equal(Date.parse(renewed.expiresAt!), w.clock.now() + HOUR, 'renewed for as long again')
    assert.equal(reads(w.server, 'database/creds/gateway'), 1)

    // Next time the max TTL (2 h) caps the renewal at 14 min: ccred reads a new secret instead.
    await w.advance(53 * MINUTE, () => reads(w.server, 'database/creds/gateway') === 2)
    await until(async () => (await w.status('db')).meta?.lease !== lease, 'the new lease to land')
    assert.equal(renewals(), 2)
    const replaced = await w.get('db')
    assert.notEqual(replaced.value, first.value)
    assert.equal(Date.parse(replaced.expiresAt!) - w.clock.now(), HOUR)
    assert.ok(w.server.credentialValid(replaced.value))
  })

  it('a forced fetch (--refresh, or a 401 re-issue) reads anew and never renews the refused lease', async () => {
    const w = await databaseWorld({ ttlMs: HOUR, maxTtlMs: 24 * HOUR })
    const first = await w.get('db')
    w.clock.advance(10 * MINUTE)
    const forced = await w.get('db', { forceRefresh: true })
    assert.notEqual(forced.value, first.value)
    assert.equal(w.server.requests.filter((r) => r.path === '/v1/sys/leases/renew').length, 0)
  })

  it('a lease that is not renewable is read again rather than renewed', async () => {
    const w = await databaseWorld({ ttlMs: HOUR, maxTtlMs: 24 * HOUR, renewable: false })
    const first = await w.get('db')
    await w.advance(53 * MINUTE, () => reads(w.server, 'database/creds/gateway') === 2)
    await until(async () => (await w.get('db')).value !== first.value, 'the new value')
    assert.equal(w.server.requests.filter((r) => r.path === '/v1/sys/leases/renew').length, 0)
  })
})

describe('vault tokens: renewal and re-login on the injected clock', { skip: loopbackTcpSkip }, () => {
  it('approle: renews the token at 2/3 of its TTL while renewable, logs in again at max TTL; one token per connection', async () => {
    let creds = { roleId: '', secretId: '' }
    const w = await world((server) => {
      server.policy('gateway', { 'secret/data/litellm/*': ['read'] })
      creds = server.approleRole('ci', { policies: ['gateway'], ttlMs: 30 * MINUTE, maxTtlMs: HOUR })
      server.kvPut('secret/litellm/a', { key: 'sk-a' })
      server.kvPut('secret/litellm/b', { key: 'sk-b' })
      const profile = (name: string) => `[profiles.${name}]\nsource = "vault"\n[profiles.${name}.vault]\npath = "secret/litellm/${name}"\nfield = "key"\nrefresh = "4h"\n`
      return `[vault]\nauth = { method = "approle", role_id = "env:ROLE_ID", secret_id = "env:SECRET_ID" }\n\n${profile('a')}\n${profile('b')}`
    })
    w.env.ROLE_ID = creds.roleId
    w.env.SECRET_ID = creds.secretId
    assert.equal((await w.get('a')).value, 'sk-a')
    assert.equal((await w.get('b')).value, 'sk-b')
    const logins = () => w.server.requests.filter((r) => r.path === '/v1/auth/approle/login').length
    const renewals = () => w.server.requests.filter((r) => r.path === '/v1/auth/token/renew-self').length
    assert.equal(logins(), 1, 'both profiles share the connection\'s token')
    const [token] = w.server.liveTokens('auth/approle/login')
    assert.ok(token !== undefined)

    // Each step waits until ccred has taken Vault's answer in (and armed its next timer).
    await w.advance(20 * MINUTE, async () => renewals() === 1 && (await w.tokens()).renewals === 1)
    assert.equal(w.server.tokenInfo(token.id)!.expiresAtMs, w.clock.now() + 30 * MINUTE, 'the renewal extended the token')
    // At 40 min a renewal would need 30 min but the max TTL (60 min) leaves 20: capped.
    await w.advance(20 * MINUTE, async () => renewals() === 2 && (await w.tokens()).renewals === 2)
    // The capped token is replaced by a new login at 2/3 of what it has left.
    await w.advance(14 * MINUTE, async () => logins() === 2 && (await w.tokens()).logins === 2)
    assert.equal(w.server.liveTokens('auth/approle/login').length, 2, 'the old token (alive until 60 min) and the new one')
    // The old token runs out at 60 min; reads keep working with the new one.
    w.clock.advance(10 * MINUTE)
    w.server.kvPut('secret/litellm/a', { key: 'sk-a2' })
    assert.equal((await w.get('a', { forceRefresh: true })).value, 'sk-a2')
    assert.equal(logins(), 2)
  })

  it('a token revoked behind ccred\'s back is replaced by a new login, and the read succeeds', async () => {
    let creds = { roleId: '', secretId: '' }
    const w = await world((server) => {
      creds = server.approleRole('ci', { policies: ['root'], ttlMs: HOUR })
      server.kvPut('secret/gw', { key: 'sk-1' })
      return '[vault]\nauth = { method = "approle", role_id = "env:ROLE_ID", secret_id = "env:SECRET_ID" }\n\n[profiles.gw]\nsource = "vault"\n[profiles.gw.vault]\npath = "secret/gw"\nfield = "key"\n'
    })
    w.env.ROLE_ID = creds.roleId
    w.env.SECRET_ID = creds.secretId
    await w.get('gw')
    for (const token of w.server.liveTokens()) w.server.revokeToken(token.id)
    assert.equal((await w.get('gw', { forceRefresh: true })).value, 'sk-1')
    assert.equal(w.server.requests.filter((r) => r.path === '/v1/auth/approle/login').length, 2)
  })

  it('token method: renews a renewable token; once it cannot be renewed and runs out, ERR_LOGIN_REQUIRED says vault login', async () => {
    const w = await world((server) => {
      server.kvPut('secret/gw', { key: 'sk-1' })
      return '[profiles.gw]\nsource = "vault"\n[profiles.gw.vault]\npath = "secret/gw"\nfield = "key"\nkv_version = 2\n'
    })
    w.env.VAULT_TOKEN = w.server.createToken({ ttlMs: 30 * MINUTE, maxTtlMs: 40 * MINUTE, policies: ['root'] })
    await w.get('gw')
    const renewals = () => w.server.requests.filter((r) => r.path === '/v1/auth/token/renew-self').length
    await w.advance(20 * MINUTE, async () => renewals() === 1 && (await w.tokens()).renewals === 1)
    w.clock.advance(25 * MINUTE)
    const expired = await rejects(w.get('gw', { forceRefresh: true }))
    assert.equal(expired.code, 'ERR_LOGIN_REQUIRED')
    assert.match(expired.message, /the token from VAULT_TOKEN is not valid \(expired or revoked\)/)
    assert.match(expired.hint ?? '', /vault login/)
  })

  it('token method: without VAULT_TOKEN, ~/.vault-token (as `vault login` writes it); without either, ERR_LOGIN_REQUIRED', async () => {
    const w = await world((server) => {
      server.kvPut('secret/gw', { key: 'sk-1' })
      return '[profiles.gw]\nsource = "vault"\n[profiles.gw.vault]\npath = "secret/gw"\nfield = "key"\n'
    })
    const none = await rejects(w.get('gw'))
    assert.equal(none.code, 'ERR_LOGIN_REQUIRED')
    assert.match(none.message, /VAULT_TOKEN is not set .* ~\/\.vault-token does not exist/)
    writeFileSync(join(w.env.HOME, '.vault-token'), `${w.server.createToken()}\n`)
    assert.equal((await w.get('gw')).value, 'sk-1')
  })
})

describe('vault: references', { skip: loopbackTcpSkip }, () => {
  it('a static profile reads vault:PATH#field through [vault]; [vault] edits give it a new cache key', async () => {
    const w = await world((server) => {
      server.kvPut('secret/keys/gw', { token: 'sk-from-reference' })
      return '[vault]\nauth = { method = "token", token = "env:T" }\n\n[profiles.gw]\nsource = "static"\nvalue = "vault:secret/keys/gw#token"\n'
    })
    w.env.T = w.server.createToken()
    assert.equal((await w.get('gw')).value, 'sk-from-reference')
    const missing = await world((server) => {
      server.kvPut('secret/keys/gw', { token: 'x' })
      return '[vault]\nauth = { method = "token", token = "env:T" }\n\n[profiles.gw]\nsource = "static"\nvalue = "vault:secret/keys/gw#nope"\n'
    })
    missing.env.T = missing.server.createToken()
    const error = await rejects(missing.get('gw'))
    assert.equal(error.code, 'ERR_SOURCE_OUTPUT')
    assert.match(error.message, /profiles\.gw\.value: vault: secret\/data\/keys\/gw has no field "nope" \(fields: token\)/)
  })

  it('a refused vault: reference keeps Vault\'s HTTP status and the cause under the key\'s context', async () => {
    const w = await world((server) => {
      server.kvPut('secret/keys/gw', { token: 'sk-from-reference' })
      server.policy('other', { 'secret/data/elsewhere/*': ['read'] })
      return '[vault]\nauth = { method = "token", token = "env:T" }\n\n[profiles.gw]\nsource = "static"\nvalue = "vault:secret/keys/gw#token"\n'
    })
    w.env.T = w.server.createToken({ policies: ['other'] })
    const denied = await rejects(w.get('gw'))
    assert.equal(denied.code, 'ERR_SOURCE_DENIED')
    assert.match(denied.message, /profiles\.gw\.value: vault: read secret\/data\/keys\/gw: permission denied \(403\)/)
    assert.equal(denied.detail.httpStatus, 403, 'the status travels with the message, not only deep in the cause chain')
    assert.ok(denied.cause instanceof Error, 'the cause is kept')
  })
})

describe('vault: TLS', { skip: loopbackTcpSkip }, () => {
  it('verifies Vault\'s certificate against ca_cert; without it the TLS failure is clear; the insecure switch is explicit and shown', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ccred-tls-'))
    after(() => rmSync(dir, { recursive: true, force: true }))
    const certs = makeTlsCertificates(dir)
    if (certs === undefined) {
      t.diagnostic('skipped: the openssl CLI is not available to make a test CA')
      t.skip('no openssl')
      return
    }
    const profileWith = (name: string, extra: string) => `[profiles.${name}]\nsource = "vault"\n[profiles.${name}.vault]\npath = "secret/gw"\nfield = "key"\nauth = { method = "token", token = "env:T" }\n${extra}\n`
    const w = await world((server) => {
      server.kvPut('secret/gw', { key: 'sk-over-tls' })
      return [profileWith('gw', `ca_cert = "${certs.caPath}"`), profileWith('plain', 'timeout = "2s"'), profileWith('insecure', 'insecure_skip_tls_verify = true')].join('\n')
    }, {}, { key: certs.key, cert: certs.cert })
    w.env.T = w.server.createToken()
    assert.match(w.server.url, /^https:/)
    assert.equal((await w.get('gw')).value, 'sk-over-tls')
    const untrusted = await rejects(w.get('plain'))
    assert.equal(untrusted.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.match(untrusted.message, /TLS with https:\/\/127\.0\.0\.1:\d+ failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/)
    assert.match(untrusted.hint ?? '', /ca_cert \(or VAULT_CACERT\)/)
    assert.equal((await w.get('insecure')).value, 'sk-over-tls')
    assert.equal((await w.status('insecure')).meta?.tls, 'VERIFICATION OFF (insecure_skip_tls_verify)')
  })
})
