// The vault source through the real CLI and the real autostarted daemon, against the Vault
// test server with the real node-vault client inside the daemon: every auth method, faults
// while a value is cached, sealed, slow and unreachable Vault, permission denied, a vault:
// reference used by a static profile, a 401 re-issue picking up a rotated key. Secrets never
// appear anywhere but on get's stdout.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CLAUDE_CODE_HELPER_ENV, Sandbox, waitFor, type CliResult, oneLineStdout, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'
import { AWS_PROFILE_KEY, AWS_TEST_KEY, createIssuer, startGithubOidcStub, type GithubOidcStub, type Issuer } from '../helpers/vault-fixtures.js'
import { startVaultServer, type VaultTestServer } from '../helpers/vault-server.js'

const MINUTE = 60_000
const SECRET = 'sk-litellm-vault-9c1e77'

let server: VaultTestServer
let issuer: Issuer
let gitlab: Issuer
let github: GithubOidcStub
const sandboxes = sandboxesCleanedUpAfterAll()

before(async () => {
  server = await startVaultServer()
  issuer = await createIssuer()
  gitlab = await createIssuer('https://gitlab.example.com', 'gitlab-key-1')
  github = await startGithubOidcStub(issuer, { sub: 'repo:octo-org/gateway:ref:refs/heads/main', repository: 'octo-org/gateway', repository_owner: 'octo-org' })
  server.policy('gateway', { 'secret/data/litellm/*': ['read'], 'database/creds/gateway': ['read'] })
  server.kvPut('secret/litellm/claude-code', { api_key: SECRET, team: 'platform' })
  server.databaseRole('gateway', { ttlMs: 60 * MINUTE, maxTtlMs: 24 * 60 * MINUTE })
  server.jwtConfig({ jwks: { keys: [...issuer.jwks.keys, ...gitlab.jwks.keys] } })
  server.jwtRole('gha', { policies: ['gateway'], ttlMs: 10 * MINUTE, boundAudiences: ['https://vault.example.com'], boundClaims: { repository: 'octo-org/gateway' } })
  server.kubernetesRole('gateway', { policies: ['gateway'], ttlMs: 30 * MINUTE, serviceAccounts: ['claude-runner'], namespaces: ['ci'] })
  server.kubernetesServiceAccountToken('eyJ.sa.claude-runner', 'claude-runner', 'ci')
  server.awsAccessKey(AWS_TEST_KEY.accessKeyId, { secretAccessKey: AWS_TEST_KEY.secretAccessKey, arn: AWS_TEST_KEY.arn })
  server.awsAccessKey(AWS_PROFILE_KEY.accessKeyId, { secretAccessKey: AWS_PROFILE_KEY.secretAccessKey, arn: AWS_PROFILE_KEY.arn })
  server.awsServerId('vault.example.com')
  server.awsRole('ci-runner', { policies: ['gateway'], ttlMs: 15 * MINUTE, boundPrincipalArn: AWS_TEST_KEY.arn })
  server.awsRole('laptop', { policies: ['gateway'], ttlMs: 15 * MINUTE, boundPrincipalArn: AWS_PROFILE_KEY.arn })
})
after(async () => {
  await github.close()
  await server.close()
})

function sandbox(env: Record<string, string> = {}): Sandbox {
  const box = new Sandbox({ VAULT_ADDR: server.url, AWS_EC2_METADATA_DISABLED: 'true', ...env })
  sandboxes.push(box)
  return box
}

function value(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr)
  return oneLineStdout(result.stdout)
}

/** The secret appears nowhere: not in stderr, status, the audit log or the daemon log. */
async function assertNoLeak(box: Sandbox, secrets: string[], outputs: string[] = []): Promise<void> {
  const status = await box.run(['status'])
  const statusJson = await box.run(['status', '--json'])
  const places = { 'status': status.stdout + status.stderr, 'status --json': statusJson.stdout, 'audit log': box.auditLog(), 'daemon log': box.daemonLog(), 'outputs': outputs.join('\n') }
  for (const secret of secrets) {
    for (const [where, text] of Object.entries(places)) assert.ok(!text.includes(secret), `${where} holds a secret`)
  }
}

const vaultProfile = (name: string, path: string, field: string, extra = '') => `[profiles.${name}]\nsource = "vault"\n[profiles.${name}.vault]\npath = "${path}"\nfield = "${field}"\n${extra}\n`

describe('vault through the daemon: auth methods', () => {
  it('approle (CI): get prints the secret and one newline; status, audit and logs name the source, never a secret or id', async () => {
    const ids = server.approleRole('ci', { policies: ['gateway'], ttlMs: 20 * MINUTE })
    const box = sandbox({ VAULT_ROLE_ID: ids.roleId, VAULT_SECRET_ID: ids.secretId })
    box.writeConfig(`[vault]\nauth = { method = "approle", role_id = "env:VAULT_ROLE_ID", secret_id = "env:VAULT_SECRET_ID" }\n\n${vaultProfile('gw', 'secret/litellm/claude-code', 'api_key')}`)
    const got = await box.run(['get', 'gw'])
    assert.equal(value(got), SECRET)
    assert.equal(got.stderr, '')
    const json = JSON.parse((await box.run(['status', '--json'])).stdout) as { profiles: { profile: string; source: string; cached: boolean; meta?: Record<string, string>; nextRefreshAt?: string }[] }
    const gw = json.profiles.find((p) => p.profile === 'gw')!
    assert.equal(gw.source, 'vault')
    assert.equal(gw.cached, true)
    assert.equal(gw.meta?.path, 'secret/data/litellm/claude-code')
    assert.equal(gw.meta?.auth, 'approle')
    assert.ok(gw.nextRefreshAt !== undefined, 'a static value is re-read every refresh')
    const audit = box.auditLines().filter((line) => line.profile === 'gw')
    assert.deepEqual(audit.map((line) => [line.event, line.source, line.served]), [['issue', 'vault', 'fetch']])
    const token = server.liveTokens('auth/approle/login').at(-1)!.id
    await assertNoLeak(box, [SECRET, ids.secretId, ids.roleId, token], [got.stderr])
  })

  it('token (laptop): ~/.vault-token as `vault login` leaves it', async () => {
    const box = sandbox()
    mkdirSync(box.home, { recursive: true })
    const token = server.createToken({ policies: ['gateway'], ttlMs: 60 * MINUTE })
    writeFileSync(join(box.home, '.vault-token'), token)
    box.writeConfig(vaultProfile('gw', 'secret/litellm/claude-code', 'api_key'))
    assert.equal(value(await box.run(['get', 'gw'])), SECRET)
    await assertNoLeak(box, [SECRET, token])
  })

  it('jwt: GitHub Actions OIDC from the token request URL, and a GitLab id_token from an env var', async () => {
    const gitlabJwt = await gitlab.sign({ sub: 'project_path:ml/gateway', aud: 'https://vault.example.com', repository: 'octo-org/gateway' })
    const box = sandbox({ ACTIONS_ID_TOKEN_REQUEST_URL: github.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: github.requestToken, VAULT_ID_TOKEN: gitlabJwt })
    box.writeConfig([
      vaultProfile('gha', 'secret/litellm/claude-code', 'api_key', 'auth = { method = "jwt", role = "gha", jwt = "github-actions", audience = "https://vault.example.com" }'),
      vaultProfile('gitlab', 'secret/litellm/claude-code', 'api_key', 'auth = { method = "jwt", role = "gha", jwt = "env:VAULT_ID_TOKEN" }'),
    ].join('\n'))
    const before = github.requests.length
    assert.equal(value(await box.run(['get', 'gha'])), SECRET)
    assert.deepEqual(github.requests.slice(before), [{ audience: 'https://vault.example.com', authorized: true }])
    assert.equal(value(await box.run(['get', 'gitlab'])), SECRET)
    await assertNoLeak(box, [SECRET, github.requestToken, gitlabJwt])
  })

  it('kubernetes: the service-account token file', async () => {
    const box = sandbox()
    const tokenPath = box.file('sa-token')
    writeFileSync(tokenPath, 'eyJ.sa.claude-runner\n')
    box.writeConfig(vaultProfile('k8s', 'secret/litellm/claude-code', 'api_key', `auth = { method = "kubernetes", role = "gateway", token_path = "${tokenPath}" }`))
    assert.equal(value(await box.run(['get', 'k8s'])), SECRET)
    await assertNoLeak(box, [SECRET, 'eyJ.sa.claude-runner'])
  })

  it('aws: environment keys with the server-ID header (CI), and a named profile from ~/.aws (laptop)', async () => {
    const box = sandbox({ AWS_ACCESS_KEY_ID: AWS_TEST_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_TEST_KEY.secretAccessKey })
    mkdirSync(join(box.home, '.aws'), { recursive: true })
    writeFileSync(join(box.home, '.aws', 'credentials'), `[dev]\naws_access_key_id = ${AWS_PROFILE_KEY.accessKeyId}\naws_secret_access_key = ${AWS_PROFILE_KEY.secretAccessKey}\n`)
    box.writeConfig([
      vaultProfile('ci', 'secret/litellm/claude-code', 'api_key', 'auth = { method = "aws", role = "ci-runner", header_value = "vault.example.com" }'),
      vaultProfile('laptop', 'secret/litellm/claude-code', 'api_key', 'auth = { method = "aws", role = "laptop", profile = "dev", header_value = "vault.example.com" }'),
    ].join('\n'))
    assert.equal(value(await box.run(['get', 'ci'])), SECRET)
    assert.equal(value(await box.run(['get', 'laptop'])), SECRET)
    await assertNoLeak(box, [SECRET, AWS_TEST_KEY.secretAccessKey, AWS_PROFILE_KEY.secretAccessKey])
  })
})

describe('vault through the daemon: failures', () => {
  it('permission denied: exit 7, ERR_SOURCE_DENIED naming the path, nothing on stdout', async () => {
    const box = sandbox({ T: server.createToken({ policies: ['gateway'] }) })
    server.kvPut('secret/private/key', { api_key: 'sk-private' })
    box.writeConfig(`[vault]\nauth = { method = "token", token = "env:T" }\n\n${vaultProfile('gw', 'secret/private/key', 'api_key', 'kv_version = 2')}`)
    const denied = await box.run(['get', 'gw'])
    assert.equal(denied.code, 7)
    assert.equal(denied.stdout, '')
    assert.match(denied.stderr, /^ccred: profile gw: vault: read secret\/data\/private\/key: permission denied \(403\) \[ERR_SOURCE_DENIED\] — a policy must grant "read" on secret\/data\/private\/key; check with: vault token capabilities secret\/data\/private\/key\n$/)
  })

  it('doctor: reachable, unsealed, token valid with its TTL, and a policy that denies the path → exit 13', async () => {
    const box = sandbox({ T: server.createToken({ policies: ['gateway'] }) })
    server.kvPut('secret/private/other', { api_key: 'sk-private-2' })
    box.writeConfig(`[vault]\nauth = { method = "token", token = "env:T" }\n\n${vaultProfile('gw', 'secret/litellm/claude-code', 'api_key')}\n${vaultProfile('locked', 'secret/private/other', 'api_key')}`)
    const good = await box.run(['doctor', 'gw'])
    assert.match(good.stdout, /^vault gw reachable +ok /m)
    assert.match(good.stdout, /^vault gw unsealed +ok /m)
    assert.match(good.stdout, /^vault gw token +ok /m)
    assert.match(good.stdout, /^vault gw policy +ok /m)
    const locked = await box.run(['doctor', 'locked'])
    assert.equal(locked.code, 13, locked.stdout)
    assert.match(locked.stdout, /^vault locked policy +FAIL +.*secret\/data\/private\/other/m)
    await assertNoLeak(box, [SECRET, 'sk-private-2', box.env.T!], [good.stdout, locked.stdout, good.stderr, locked.stderr])
  })

  it('sealed with nothing cached: exit 6 with Vault\'s words; once unsealed, get works', async () => {
    const sealedServer = await startVaultServer()
    after(() => sealedServer.close())
    sealedServer.kvPut('secret/gw', { key: 'sk-after-unseal' })
    const box = sandbox({ VAULT_ADDR: sealedServer.url, VAULT_TOKEN: sealedServer.createToken() })
    box.writeConfig(vaultProfile('gw', 'secret/gw', 'key'))
    sealedServer.sealed = true
    const sealed = await box.run(['get', 'gw'])
    assert.equal(sealed.code, 6)
    assert.match(sealed.stderr, /^ccred: profile gw: vault: [^:]+: Vault is sealed \(503\) \[ERR_SOURCE_UNAVAILABLE\] — Vault at http:\/\/127\.0\.0\.1:\d+ is sealed: its operators must unseal it/)
    sealedServer.sealed = false
    assert.equal(value(await box.run(['get', 'gw', '--refresh'])), 'sk-after-unseal')
  })

  it('sealed, slow, 5xx and unreachable while a value is cached: the value keeps being served, status shows the error', async () => {
    const faulty = await startVaultServer()
    after(() => faulty.close())
    faulty.kvPut('secret/gw', { key: 'sk-cached-value' })
    const box = sandbox({ VAULT_ADDR: faulty.url, VAULT_TOKEN: faulty.createToken() })
    // 2 s: the daemon's first Vault request on a loaded machine must not hit it; the slow fault waits far longer.
    box.writeConfig(`[vault]\ntimeout = "2s"\n\n${vaultProfile('gw', 'secret/gw', 'key', 'refresh = "1s"')}`)
    assert.equal(value(await box.run(['get', 'gw'])), 'sk-cached-value')
    const lastError = async () => (JSON.parse((await box.run(['status', '--json'])).stdout) as { profiles: { lastError?: { message: string } }[] }).profiles[0]!.lastError?.message

    for (const [name, inject, expected] of [
      ['sealed', () => { faulty.sealed = true }, /Vault is sealed \(503\)/],
      ['slow', () => { faulty.faults.push({ delayMs: 15_000 }) }, /did not answer \(no answer within 2000 ms\)/],
      ['5xx', () => { faulty.faults.push({ status: 502, errors: ['upstream connect error'] }) }, /upstream connect error \(502\)/],
    ] as const) {
      inject()
      await waitFor(async () => expected.test((await lastError()) ?? ''), `status to show the ${name} error`, 30_000)
      const served = await box.run(['get', 'gw'], { distinctCaller: true })
      assert.equal(value(served), 'sk-cached-value', `${name}: still served`)
      const status = await box.run(['status'])
      assert.match(status.stdout, /gw: last error: profile gw: vault: /)
      faulty.sealed = false
      faulty.faults.length = 0
      await waitFor(async () => (await lastError()) === undefined, `recovery after ${name}`, 10_000)
    }

    await faulty.close()
    await waitFor(async () => /cannot reach Vault at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/.test((await lastError()) ?? ''), 'status to show Vault unreachable', 10_000)
    assert.equal(value(await box.run(['get', 'gw'], { distinctCaller: true })), 'sk-cached-value', 'unreachable: still served')
    await assertNoLeak(box, ['sk-cached-value'])
  })
})

describe('vault through the daemon: references, leases, re-issue', () => {
  it('a static profile reads vault:PATH#field through [vault]; a dynamic secret has its lease expiry', async () => {
    const box = sandbox({ T: server.createToken({ policies: ['gateway'] }) })
    box.writeConfig(`[vault]\nauth = { method = "token", token = "env:T" }\n\n[profiles.ref]\nsource = "static"\nvalue = "vault:secret/litellm/claude-code#api_key"\n\n${vaultProfile('db', 'database/creds/gateway', 'password')}`)
    assert.equal(value(await box.run(['get', 'ref'])), SECRET)
    const db = JSON.parse((await box.run(['get', 'db', '--json'])).stdout) as { value: string; expiresAt: string }
    assert.match(db.value, /^pw-/)
    const lifetimeMs = Date.parse(db.expiresAt) - Date.now()
    assert.ok(lifetimeMs > 59 * MINUTE && lifetimeMs <= 60 * MINUTE, `lease lifetime ${lifetimeMs} ms`)
    await assertNoLeak(box, [SECRET, db.value])
  })

  it('a 401 re-issue (Claude Code asking again at once) reads the rotated key without waiting for refresh', async () => {
    server.kvPut('secret/litellm/rotating', { api_key: 'sk-rotate-1' })
    const box = sandbox({ T: server.createToken({ policies: ['gateway'] }) })
    box.writeConfig(`[vault]\nauth = { method = "token", token = "env:T" }\n\n${vaultProfile('gw', 'secret/litellm/rotating', 'api_key')}`)
    assert.equal(value(await box.run(['get', 'gw'], { env: CLAUDE_CODE_HELPER_ENV })), 'sk-rotate-1')
    server.kvPut('secret/litellm/rotating', { api_key: 'sk-rotate-2' })
    assert.equal(value(await box.run(['get', 'gw'], { env: CLAUDE_CODE_HELPER_ENV })), 'sk-rotate-2')
    assert.deepEqual(box.auditLines().filter((l) => l.profile === 'gw').map((l) => l.served), ['fetch', 'reissue'])
  })
})
