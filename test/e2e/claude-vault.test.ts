// The real Claude Code with `apiKeyHelper` = ccred get on a vault profile: the helper autostarts
// the daemon, which logs in to the Vault test server (approle) with the real node-vault client
// and reads the gateway key; the gateway stub must see exactly that key. Then a 401 for the
// old key after a rotation in Vault: Claude Code re-runs the helper, ccred re-reads Vault.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runClaude, type RunClaudeResult } from '../helpers/claude.js'
import { claudeEnv, claudeMissing, describeRun as describeClaudeRun, helperCommand } from '../helpers/claude-world.js'
import { startGateway, type RecordedRequest } from '../helpers/gateway.js'
import { Sandbox } from '../helpers/sandbox.js'
import { startVaultServer } from '../helpers/vault-server.js'

const CLAUDE_TIMEOUT_MS = 90_000
const TEST_TIMEOUT_MS = CLAUDE_TIMEOUT_MS + 30_000

const messages = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/messages'))

/** What Claude Code and the daemon did, with the gateway's view, for a failing assertion. */
function describeRun(run: RunClaudeResult, sandbox: Sandbox, requests: RecordedRequest[]): string {
  return describeClaudeRun(run, sandbox, `gateway: ${requests.map((r) => `${r.method} ${r.path} ${r.status ?? '-'}`).join('; ')}`)
}

test('claude + ccred get on a vault profile: the gateway receives the key kept in Vault; a rotated key reaches Claude Code after a 401', { timeout: TEST_TIMEOUT_MS * 2 }, async (t) => {
  if (claudeMissing(t)) return
  const vault = await startVaultServer()
  const sandbox = new Sandbox()
  let rejected = ''
  const gateway = await startGateway({ rejectValues: (value) => value === rejected || !value.startsWith('sk-litellm-') })
  try {
    vault.policy('gateway', { 'secret/data/litellm/*': ['read'] })
    vault.kvPut('secret/litellm/claude-code', { api_key: 'sk-litellm-first-4b1d' })
    const ids = vault.approleRole('claude', { policies: ['gateway'], ttlMs: 30 * 60_000 })
    sandbox.writeConfig(`[vault]
address = "${vault.url}"
auth = { method = "approle", role_id = "env:VAULT_ROLE_ID", secret_id = "env:VAULT_SECRET_ID" }

[profiles.litellm]
source = "vault"
[profiles.litellm.vault]
path = "secret/litellm/claude-code"
field = "api_key"
`)
    const env = claudeEnv(sandbox, { ANTHROPIC_BASE_URL: gateway.url, VAULT_ROLE_ID: ids.roleId, VAULT_SECRET_ID: ids.secretId })
    const settings = { apiKeyHelper: helperCommand(sandbox, 'get litellm', true) }

    const first = await runClaude({ home: sandbox.home, settings, env, timeoutMs: CLAUDE_TIMEOUT_MS })
    assert.equal(first.code, 0, describeRun(first, sandbox, gateway.requests))
    assert.match(first.stdout, /pong/)
    const sent = messages(gateway.requests)
    assert.ok(sent.length >= 1, describeRun(first, sandbox, gateway.requests))
    for (const request of sent) {
      assert.equal(request.headers['authorization'], 'Bearer sk-litellm-first-4b1d')
      assert.equal(request.headers['x-api-key'], 'sk-litellm-first-4b1d')
    }
    assert.equal(vault.requests.filter((r) => r.path === '/v1/auth/approle/login').length, 1)

    // The key is rotated in Vault and the gateway revokes the old one: 401, helper re-run, re-read.
    vault.kvPut('secret/litellm/claude-code', { api_key: 'sk-litellm-second-8e2a' })
    rejected = 'sk-litellm-first-4b1d'
    const before = gateway.requests.length
    const second = await runClaude({ home: sandbox.home, settings, env, timeoutMs: CLAUDE_TIMEOUT_MS })
    const after = messages(gateway.requests.slice(before))
    t.diagnostic(`second run: ${after.map((r) => `${r.status} ${r.credential?.slice(0, 18)}`).join(', ')}`)
    assert.equal(second.code, 0, describeRun(second, sandbox, gateway.requests))
    assert.match(second.stdout, /pong/)
    assert.equal(after.at(-1)!.credential, 'sk-litellm-second-8e2a')
    assert.equal(after.at(-1)!.status, 200)

    for (const text of [sandbox.auditLog(), sandbox.daemonLog()]) {
      for (const secret of ['sk-litellm-first-4b1d', 'sk-litellm-second-8e2a', ids.secretId]) assert.ok(!text.includes(secret), 'a secret in the audit or daemon log')
    }
    const served = sandbox.auditLines().filter((line) => line.profile === 'litellm' && line.event === 'issue').map((line) => line.served)
    t.diagnostic(`audit: ${served.join(', ')}`)
    assert.equal(served[0], 'fetch')
  } finally {
    await gateway.close()
    await sandbox.cleanup()
    await vault.close()
  }
})
