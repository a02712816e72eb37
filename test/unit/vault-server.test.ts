// The Vault test server answers the real node-vault client as Vault's API docs say: KV v2
// versions and metadata, soft delete, KV v1, leases renewed and revoked, sealed mode, error bodies.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import nodeVault from 'node-vault'
import { startVaultServer, type VaultTestServer } from '../helpers/vault-server.js'
import { loopbackTcpSkip } from '../helpers/listen.js'

let server: VaultTestServer
before(async () => { server = await startVaultServer() })
after(() => server.close())

async function status(promise: Promise<unknown>): Promise<{ statusCode: number; body: { errors?: string[]; data?: unknown } }> {
  try {
    await promise
  } catch (error) {
    return (error as { response: { statusCode: number; body: { errors?: string[] } } }).response
  }
  assert.fail('expected an error response')
}

describe('vault test server (driven by node-vault)', { skip: loopbackTcpSkip }, () => {
  it('KV v2: versions, metadata, a soft-deleted latest version answering 404 with its metadata', async () => {
    const vault = nodeVault({ endpoint: server.url, token: server.createToken() })
    await vault.write('secret/data/app', { data: { key: 'v1' } })
    await vault.write('secret/data/app', { data: { key: 'v2' } })
    assert.deepEqual((await vault.read('secret/data/app')).data.data, { key: 'v2' })
    assert.equal((await vault.read('secret/data/app?version=1')).data.data.key, 'v1')
    const metadata = await vault.read('secret/metadata/app')
    assert.equal(metadata.data.current_version, 2)
    assert.deepEqual(Object.keys(metadata.data.versions), ['1', '2'])
    await vault.delete('secret/data/app')
    const deleted = await status(vault.read('secret/data/app'))
    assert.equal(deleted.statusCode, 404)
    assert.deepEqual(deleted.body.errors, [])
    assert.notEqual((deleted.body.data as { metadata: { deletion_time: string } }).metadata.deletion_time, '')
    await vault.write('kv/legacy', { key: 'v1-value' })
    const v1 = await vault.read('kv/legacy')
    assert.deepEqual([v1.data, v1.lease_id, v1.lease_duration], [{ key: 'v1-value' }, '', 2_764_800])
  })

  it('leases: renew grants the increment up to max TTL, revoke ends the credential, a revoked lease is not found', async () => {
    server.databaseRole('ro', { ttlMs: 60_000, maxTtlMs: 90_000 })
    const vault = nodeVault({ endpoint: server.url, token: server.createToken() })
    const creds = await vault.read('database/creds/ro')
    assert.equal(creds.lease_duration, 60)
    assert.equal(creds.renewable, true)
    const renewed = await vault.renew({ lease_id: creds.lease_id, increment: 600 })
    assert.ok(renewed.lease_duration <= 90, 'capped at the max TTL')
    assert.match(renewed.warnings[0], /capped/)
    assert.ok(server.credentialValid(creds.data.password))
    await vault.revoke({ lease_id: creds.lease_id })
    assert.equal(server.credentialValid(creds.data.password), false)
    const gone = await status(vault.renew({ lease_id: creds.lease_id }))
    assert.deepEqual([gone.statusCode, gone.body.errors], [400, ['lease not found']])
  })

  it('token renew-self: increment as a duration string or seconds; a Vault that ignores it grants its own TTL', async () => {
    // https://developer.hashicorp.com/vault/api-docs/auth/token#renew-a-token-self
    const ttlOf = async (token: string, increment: unknown) => {
      const response = await fetch(`${server.url}/v1/auth/token/renew-self`, { method: 'POST', headers: { 'x-vault-token': token, 'content-type': 'application/json' }, body: JSON.stringify({ increment }) })
      assert.equal(response.status, 200)
      return ((await response.json()) as { auth: { lease_duration: number } }).auth.lease_duration
    }
    const token = server.createToken({ policies: ['default'], ttlMs: 3_600_000, maxTtlMs: 24 * 3_600_000 })
    assert.equal(await ttlOf(token, '30m'), 1800)
    assert.equal(await ttlOf(token, '1h30m'), 5400)
    assert.equal(await ttlOf(token, '600'), 600)
    assert.equal(await ttlOf(token, 900), 900)
    const stubborn = server.createToken({ policies: ['default'], ttlMs: 3_600_000, maxTtlMs: 24 * 3_600_000, renewGrantMs: 20 * 60_000 })
    assert.equal(await ttlOf(stubborn, '1h'), 1200, 'the increment is not honoured')
  })

  it('a capped renewal warns in Go durations, as Vault prints them ("1h0m0s", not "3600s")', async () => {
    const token = server.createToken({ policies: ['default'], ttlMs: 10 * 60_000, maxTtlMs: 30 * 60_000 })
    const response = await fetch(`${server.url}/v1/auth/token/renew-self`, { method: 'POST', headers: { 'x-vault-token': token, 'content-type': 'application/json' }, body: JSON.stringify({ increment: '1h' }) })
    const body = (await response.json()) as { warnings: string[] | null }
    assert.deepEqual(body.warnings, ['TTL of "1h0m0s" exceeded the effective max_ttl of "30m0s"; TTL value is capped accordingly'])
  })

  it('policy paths: `+` is one whole segment, a trailing `*` any rest', async () => {
    server.policy('per-team', { 'secret/data/+/litellm': ['read'] })
    const vault = nodeVault({ endpoint: server.url, token: server.createToken() })
    await vault.write('secret/data/team-a/litellm', { data: { key: 'a' } })
    await vault.write('secret/data/team-a/deep/litellm', { data: { key: 'deep' } })
    const reader = nodeVault({ endpoint: server.url, token: server.createToken({ policies: ['per-team'] }) })
    assert.equal((await reader.read('secret/data/team-a/litellm')).data.data.key, 'a')
    assert.equal((await status(reader.read('secret/data/team-a/deep/litellm'))).statusCode, 403, '+ does not span two segments')
  })

  it('AppRole login: the auth block lists token_policies and no policies, as the API docs show', async () => {
    // https://developer.hashicorp.com/vault/api-docs/auth/approle#login-with-approle (sample response)
    const ids = server.approleRole('doc-sample', { policies: ['gateway'], ttlMs: 20 * 60_000 })
    const response = await fetch(`${server.url}/v1/auth/approle/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role_id: ids.roleId, secret_id: ids.secretId }) })
    const { auth } = (await response.json()) as { auth: Record<string, unknown> }
    assert.deepEqual(auth.token_policies, ['default', 'gateway'])
    assert.equal('policies' in auth, false)
  })

  it('sealed: 503 {"errors": ["Vault is sealed"]}, seal-status and health still answer; a bad token is 403', async () => {
    const vault = nodeVault({ endpoint: server.url, token: 'hvs.nope' })
    const denied = await status(vault.read('secret/data/app'))
    assert.deepEqual([denied.statusCode, denied.body.errors], [403, ['permission denied']])
    server.sealed = true
    try {
      const sealed = await status(vault.read('secret/data/app'))
      assert.deepEqual([sealed.statusCode, sealed.body.errors], [503, ['Vault is sealed']])
      assert.equal((await vault.status()).sealed, true)
      assert.equal((await vault.health()).sealed, true, 'node-vault resolves sys/health whatever the status')
    } finally {
      server.sealed = false
    }
  })
})
