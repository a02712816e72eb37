// Every Vault auth method end to end in process: ccred's vault source logs in with the real
// node-vault client to the Vault test server, which checks what each method sends (approle
// ids, a JWT against its JWKS, a service-account token, a SigV4-signed sts:GetCallerIdentity).
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { AWS_PROFILE_KEY, AWS_TEST_KEY, createIssuer, GITHUB_ISSUER, startGithubOidcStub, type Issuer } from '../helpers/vault-fixtures.js'
import type { VaultTestServer } from '../helpers/vault-server.js'
import { MINUTE, rejects, world } from '../helpers/vault-world.js'
import { loopbackTcpSkip } from '../helpers/listen.js'

const SECRET = 'sk-litellm-from-vault-7f3a'

/** The secret every login must reach, readable only through the policy the role grants. */
function seed(server: VaultTestServer): void {
  server.policy('gateway', { 'secret/data/litellm/*': ['read'] })
  server.kvPut('secret/litellm/claude-code', { api_key: SECRET })
}

function profile(auth: string): string {
  return `[vault]\nauth = ${auth}\n\n[profiles.gw]\nsource = "vault"\n[profiles.gw.vault]\npath = "secret/litellm/claude-code"\nfield = "api_key"\n`
}

const logins = (server: VaultTestServer, method: string) => server.requests.filter((r) => r.path === `/v1/auth/${method}/login`)

let issuer: Issuer
before(async () => {
  issuer = await createIssuer()
})

describe('vault auth: approle', { skip: loopbackTcpSkip }, () => {
  /** An approle role "ci" granting the gateway policy, and ccred configured with `secretIdRef`. */
  async function approleWorld(secretIdRef: string) {
    let ids = { roleId: '', secretId: '' }
    const w = await world((server) => {
      seed(server)
      ids = server.approleRole('ci', { policies: ['gateway'], ttlMs: 20 * MINUTE })
      return profile(`{ method = "approle", role_id = "env:VAULT_ROLE_ID", secret_id = "${secretIdRef}" }`)
    })
    w.env.VAULT_ROLE_ID = ids.roleId
    return { w, ids }
  }

  it('logs in with role_id and secret_id references and reads through the role\'s policy', async () => {
    const { w, ids } = await approleWorld('file:~/secret-id')
    writeFileSync(join(w.env.HOME, 'secret-id'), `${ids.secretId}\n`)
    assert.equal((await w.get('gw')).value, SECRET)
    assert.equal(logins(w.server, 'approle').length, 1)
    assert.equal(w.server.requests.find((r) => r.path === '/v1/auth/approle/login')!.hasToken, false, 'a login carries no token')
    // The documented response has token_policies only: ccred reads them from there.
    assert.deepEqual((await w.tokens()).policies, ['default', 'gateway'])
  })

  it('a wrong secret_id is ERR_SOURCE_DENIED with Vault\'s words, never the ids', async () => {
    const { w, ids } = await approleWorld('env:VAULT_SECRET_ID')
    w.env.VAULT_SECRET_ID = 'not-the-secret-id'
    const error = await rejects(w.get('gw'))
    assert.equal(error.code, 'ERR_SOURCE_DENIED')
    assert.match(error.message, /vault: approle login: Vault refused it: invalid role or secret ID \(400\)/)
    assert.ok(!error.message.includes(ids.roleId) && !error.message.includes('not-the-secret-id'))
  })
})

describe('vault auth: jwt', { skip: loopbackTcpSkip }, () => {
  it('GitHub Actions: requests the OIDC token for the audience from ACTIONS_ID_TOKEN_REQUEST_URL with the bearer, logs in with it', async () => {
    const stub = await startGithubOidcStub(issuer, { sub: 'repo:octo-org/gateway:ref:refs/heads/main', repository: 'octo-org/gateway', repository_owner: 'octo-org' })
    after(() => stub.close())
    const w = await world((server) => {
      seed(server)
      server.jwtConfig({ jwks: issuer.jwks, boundIssuer: GITHUB_ISSUER })
      server.jwtRole('gha', { policies: ['gateway'], ttlMs: 10 * MINUTE, boundAudiences: ['https://vault.example.com'], boundClaims: { repository: 'octo-org/gateway' } })
      return profile('{ method = "jwt", role = "gha", jwt = "github-actions", audience = "https://vault.example.com" }')
    })
    // The stub signs with real time; the server checks exp/iat on real time too for this test.
    w.server.clock = { now: () => Date.now() }
    w.env.ACTIONS_ID_TOKEN_REQUEST_URL = stub.requestUrl
    w.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = stub.requestToken
    assert.equal((await w.get('gw')).value, SECRET)
    assert.deepEqual(stub.requests, [{ audience: 'https://vault.example.com', authorized: true }])
    assert.equal(logins(w.server, 'jwt').length, 1)
  })

  it('GitHub Actions without id-token permission: ERR_LOGIN_REQUIRED naming the permission', async () => {
    const w = await world((server) => {
      seed(server)
      return profile('{ method = "jwt", role = "gha", jwt = "github-actions" }')
    })
    const error = await rejects(w.get('gw'))
    assert.equal(error.code, 'ERR_LOGIN_REQUIRED')
    assert.match(error.hint ?? '', /id-token: write/)
  })

  it('GitLab id_tokens from an env var, or a JWT file; a JWT for another audience is refused', async () => {
    const gitlab = await createIssuer('https://gitlab.example.com', 'gitlab-key-1')
    const w = await world((server) => {
      seed(server)
      server.jwtConfig({ jwks: gitlab.jwks, boundIssuer: 'https://gitlab.example.com' })
      server.jwtRole('gitlab', { policies: ['gateway'], ttlMs: 10 * MINUTE, boundAudiences: ['https://vault.example.com'], boundClaims: { project_path: 'ml/gateway' } })
      return [
        profile('{ method = "jwt", role = "gitlab", jwt = "env:VAULT_ID_TOKEN" }'),
        '[profiles.fromfile]\nsource = "vault"\n[profiles.fromfile.vault]\npath = "secret/litellm/claude-code"\nfield = "api_key"\nauth = { method = "jwt", role = "gitlab", jwt = "file:~/ci-jwt" }\n',
      ].join('\n')
    })
    w.server.clock = { now: () => Date.now() }
    w.env.VAULT_ID_TOKEN = await gitlab.sign({ sub: 'project_path:ml/gateway:ref_type:branch:ref:main', project_path: 'ml/gateway', aud: 'https://vault.example.com' })
    assert.equal((await w.get('gw')).value, SECRET)
    writeFileSync(join(w.env.HOME, 'ci-jwt'), await gitlab.sign({ sub: 'x', project_path: 'ml/gateway', aud: 'https://other.example.com' }))
    const error = await rejects(w.get('fromfile'))
    assert.equal(error.code, 'ERR_SOURCE_DENIED')
    assert.match(error.message, /vault: jwt login \(role "gitlab"\): Vault refused it: error validating token: .*aud.* \(400\)/)
  })
})

describe('vault auth: kubernetes', { skip: loopbackTcpSkip }, () => {
  it('logs in with the service-account token file; a token of another service account is refused', async () => {
    const w = await world((server) => {
      seed(server)
      server.kubernetesRole('gateway', { policies: ['gateway'], ttlMs: 30 * MINUTE, serviceAccounts: ['claude-runner'], namespaces: ['ci'] })
      server.kubernetesServiceAccountToken('eyJ.sa-token.claude-runner', 'claude-runner', 'ci')
      server.kubernetesServiceAccountToken('eyJ.sa-token.other', 'other', 'ci')
      return ''
    })
    const tokenPath = join(w.dir, 'sa-token')
    writeFileSync(tokenPath, 'eyJ.sa-token.claude-runner\n')
    writeFileSync(join(w.dir, 'config.toml'), profile(`{ method = "kubernetes", role = "gateway", token_path = '${tokenPath}' }`))
    assert.equal((await w.get('gw')).value, SECRET)
    assert.equal(logins(w.server, 'kubernetes').length, 1)

    // The token file is read anew at each login (projected tokens rotate).
    writeFileSync(tokenPath, 'eyJ.sa-token.other\n')
    for (const token of w.server.liveTokens()) w.server.revokeToken(token.id)
    const error = await rejects(w.get('gw', { forceRefresh: true }))
    assert.equal(error.code, 'ERR_SOURCE_DENIED')
    assert.match(error.message, /kubernetes login \(role "gateway"\): Vault refused it: service account name not authorized \(403\)/)
  })
})

describe('vault auth: aws (IAM)', { skip: loopbackTcpSkip }, () => {
  const saved: Record<string, string | undefined> = {}
  const setEnv = (vars: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(vars)) {
      if (!(key in saved)) saved[key] = process.env[key]
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
  after(() => setEnv(saved))

  it('default chain (environment keys): signs sts:GetCallerIdentity with the server-ID header; Vault verifies it and the principal', async () => {
    // The AWS SDK reads the process environment, as it does in the daemon.
    setEnv({ AWS_ACCESS_KEY_ID: AWS_TEST_KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS_TEST_KEY.secretAccessKey, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined, AWS_EC2_METADATA_DISABLED: 'true' })
    const w = await world((server) => {
      seed(server)
      server.awsAccessKey(AWS_TEST_KEY.accessKeyId, { secretAccessKey: AWS_TEST_KEY.secretAccessKey, arn: AWS_TEST_KEY.arn })
      server.awsServerId('vault.example.com')
      server.awsRole('ci-runner', { policies: ['gateway'], ttlMs: 15 * MINUTE, boundPrincipalArn: AWS_TEST_KEY.arn })
      return profile('{ method = "aws", role = "ci-runner", header_value = "vault.example.com" }')
    })
    assert.equal((await w.get('gw')).value, SECRET)
    assert.equal(logins(w.server, 'aws').length, 1)

    // Without the server-ID header Vault refuses; with the wrong one too.
    writeFileSync(join(w.dir, 'config.toml'), profile('{ method = "aws", role = "ci-runner" }'))
    const missing = await rejects(w.get('gw'))
    assert.equal(missing.code, 'ERR_SOURCE_DENIED')
    assert.match(missing.message, /missing header "X-Vault-AWS-IAM-Server-ID" \(400\)/)
    assert.ok(!missing.message.includes(AWS_TEST_KEY.secretAccessKey))
  })

  it('a named profile from ~/.aws/credentials; a key STS does not know is refused', async () => {
    const w = await world((server) => {
      seed(server)
      server.awsAccessKey(AWS_PROFILE_KEY.accessKeyId, { secretAccessKey: AWS_PROFILE_KEY.secretAccessKey, arn: AWS_PROFILE_KEY.arn })
      server.awsRole('laptop', { policies: ['gateway'], ttlMs: 15 * MINUTE, boundPrincipalArn: AWS_PROFILE_KEY.arn })
      return profile('{ method = "aws", role = "laptop", profile = "dev" }')
    })
    mkdirSync(join(w.env.HOME, '.aws'))
    const credentials = join(w.env.HOME, '.aws', 'credentials')
    writeFileSync(credentials, `[dev]\naws_access_key_id = ${AWS_PROFILE_KEY.accessKeyId}\naws_secret_access_key = ${AWS_PROFILE_KEY.secretAccessKey}\n\n[stranger]\naws_access_key_id = AKIAUNKNOWNEXAMPLE00\naws_secret_access_key = x\n`)
    setEnv({ AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: join(w.env.HOME, '.aws', 'config') })
    assert.equal((await w.get('gw')).value, SECRET)
    writeFileSync(join(w.dir, 'config.toml'), profile('{ method = "aws", role = "laptop", profile = "stranger" }'))
    const error = await rejects(w.get('gw'))
    assert.equal(error.code, 'ERR_SOURCE_DENIED')
    assert.match(error.message, /aws login \(role "laptop"\): Vault refused it: error making upstream request: received error code 403 from STS: .*InvalidClientTokenId/)
  })
})
