// The structured checks `ccred doctor` will print for a vault profile, against the Vault test server.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkVault } from '../../src/vault/checks.js'
import { vaultResource } from '../../src/vault/shared.js'
import { MINUTE, world, type World } from '../helpers/vault-world.js'
import { loopbackTcpSkip } from '../helpers/listen.js'

async function connection(w: World) {
  const config = await w.service.config.current()
  return (await w.service.runtime.shared(vaultResource)).get(config.shared.of(vaultResource))
}

describe('vault checks (for ccred doctor)', { skip: loopbackTcpSkip }, () => {
  it('reachable, unsealed, token valid with its TTL and policies, and per path whether the policy allows a read', async () => {
    const w = await world((server) => {
      server.policy('gateway', { 'secret/data/litellm/*': ['read'], 'secret/data/litellm/admin': ['deny'] })
      return '[vault]\nauth = { method = "token", token = "env:T" }\n'
    })
    w.env.T = w.server.createToken({ policies: ['gateway'], ttlMs: 45 * MINUTE })
    const checks = await checkVault(await connection(w), [{ path: 'secret/litellm/claude-code' }, { path: 'secret/litellm/admin' }])
    assert.deepEqual(checks.map((c) => [c.name, c.ok]), [['reachable', true], ['unsealed', true], ['token', true], ['policy', true], ['policy', false]])
    assert.match(checks[0]!.detail, /^Vault at http:\/\/127\.0\.0\.1:\d+ answers \(version 1\.17\.0-test\)$/)
    assert.match(checks[2]!.detail, /token from auth method "token" is valid, expires in 45m \(renewable\); policies: default, gateway/)
    assert.equal(checks[3]!.path, 'secret/data/litellm/claude-code', 'checked on the API path KV v2 reads')
    assert.match(checks[4]!.detail, /the token's policies deny reading secret\/data\/litellm\/admin \(capabilities: deny\)/)
    assert.match(checks[4]!.hint ?? '', /path "secret\/data\/litellm\/admin" \{ capabilities = \["read"\] \}/)
    assert.ok(!JSON.stringify(checks).includes(w.env.T!), 'never the token')
  })

  it('sealed: says so and stops there', async () => {
    const w = await world(() => '[vault]\nauth = { method = "token", token = "env:T" }\n')
    w.env.T = w.server.createToken()
    w.server.sealed = true
    const checks = await checkVault(await connection(w), [{ path: 'secret/x' }])
    assert.deepEqual(checks.map((c) => [c.name, c.ok]), [['reachable', true], ['unsealed', false]])
  })

  it('unreachable and invalid-token cases carry the error and the hint', async () => {
    const down = await world(() => '[vault]\naddress = "http://127.0.0.1:9"\ntimeout = "1s"\n')
    const unreachable = await checkVault(await connection(down), [])
    assert.equal(unreachable.length, 1)
    assert.equal(unreachable[0]!.ok, false)
    assert.match(unreachable[0]!.detail, /cannot reach Vault at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/)

    const w = await world(() => '[vault]\nauth = { method = "token", token = "env:T" }\n')
    w.env.T = 'hvs.not-a-real-token'
    const checks = await checkVault(await connection(w), [])
    assert.deepEqual(checks.map((c) => [c.name, c.ok]), [['reachable', true], ['unsealed', true], ['token', false]])
    assert.match(checks[2]!.detail, /the token from env:T is not valid/)
    assert.match(checks[2]!.hint ?? '', /vault login/)
  })
})
