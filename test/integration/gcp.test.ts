// The gcp source end to end: the real CLI and daemon, the real google-auth-library, and loopback
// stand-ins for Google (test/helpers/gcp-*.ts): the metadata server through GCE_METADATA_HOST, the
// OAuth token endpoint at https://oauth2.googleapis.com/token through HTTPS_PROXY (the library
// fixes that URL) with a test certificate in NODE_EXTRA_CA_CERTS, IAM Credentials through the
// profile's iam_endpoint, and STS through token_url in the external_account config.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { FakeClock } from '../../src/clock.js'
import { CredentialService } from '../../src/service/service.js'
import { MemoryStore } from '../../src/store/memory.js'
import { startForwardProxy, type Proxy } from '../helpers/forward-proxy.js'
import {
  GoogleTokens,
  jwtClaims,
  makeGoogleTokenCertificate,
  makeServiceAccountKey,
  startGoogleOAuth,
  type GoogleOAuthServer,
  type TestCertificate,
} from '../helpers/gcp-oauth-server.js'
import { startMetadataServer, type MetadataServer } from '../helpers/gcp-metadata-server.js'
import { refusedLoopbackPort } from '../helpers/listen.js'
import { Sandbox, waitFor, oneLineStdout, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'
import { assertSecretsKept } from '../helpers/secrets.js'
import { withText } from '../helpers/issued.js'

const CI_SA = 'ci-runner@acme-ci.iam.gserviceaccount.com'
const VM_SA = 'vm-default@acme-prod.iam.gserviceaccount.com'
const GATEWAY_SA = 'gateway-caller@acme-prod.iam.gserviceaccount.com'
const DELEGATE_SA = 'delegate@acme-prod.iam.gserviceaccount.com'
const LOCKED_SA = 'no-access@acme-prod.iam.gserviceaccount.com'
const USER = 'dev@acme.example'
const USER_REFRESH_TOKEN = `1//0g${'u'.repeat(40)}`
const REAUTH_REFRESH_TOKEN = `1//0g${'r'.repeat(40)}`
const WIF_AUDIENCE = '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ci/providers/github'
const WIF_PRINCIPAL = 'principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/ci/subject/repo:acme/app'
const CI_OIDC_TOKEN = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('{"sub":"repo:acme/app"}').toString('base64url')}.c2ln`
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform'

let tokens: GoogleTokens
let certificate: TestCertificate | undefined
let certificateMissing: string | undefined
let google: GoogleOAuthServer
let proxy: Proxy | undefined
let metadata: MetadataServer
let closedPort: number
/** The org policy that lets the gateway service account mint tokens of over 1 h. */
const lifetimeExtensionAllowed = new Set<string>()
let ciKey: Record<string, string>
const sandboxes = sandboxesCleanedUpAfterAll()

before(async () => {
  tokens = new GoogleTokens()
  const made = makeGoogleTokenCertificate()
  if ('missing' in made) certificateMissing = made.missing
  else certificate = made
  const key = makeServiceAccountKey(CI_SA)
  ciKey = key.json
  google = await startGoogleOAuth({
    tokens,
    serviceAccounts: new Map([[CI_SA, key.publicKey]]),
    refreshTokens: new Map([[USER_REFRESH_TOKEN, USER], [REAUTH_REFRESH_TOKEN, 'reauth']]),
    tokenCreators: new Map([
      [GATEWAY_SA, [USER, CI_SA, VM_SA, WIF_PRINCIPAL, DELEGATE_SA]],
      [DELEGATE_SA, [CI_SA]],
    ]),
    sts: { subjectToken: CI_OIDC_TOKEN, audience: WIF_AUDIENCE, principal: WIF_PRINCIPAL },
    lifetimeExtensionAllowed,
  }, certificate)
  if (google.tlsPort !== undefined) proxy = await startForwardProxy({ upstreamPort: google.tlsPort, requireProxyAuth: () => true })
  metadata = await startMetadataServer({ tokens, email: VM_SA })
  // A port nobody listens on: "no metadata server here", answered at once.
  closedPort = await refusedLoopbackPort()
})

after(async () => {
  await Promise.all([google?.close(), proxy?.close(), metadata?.close()])
  certificate?.cleanup()
})

interface SkipContext {
  skip(message?: string): void
  diagnostic(message: string): void
}

/** The token endpoint needs the test certificate; without openssl those tests skip and say why. */
function tokenEndpointMissing(t: SkipContext): boolean {
  if (certificate !== undefined && proxy !== undefined) return false
  const reason = `skipped: ${certificateMissing ?? 'no TLS stub'}; the OAuth token endpoint cannot be reached`
  t.diagnostic(reason)
  t.skip(reason)
  return true
}

/** A sandbox whose daemon reaches only the stubs: no real Google, no real metadata server. */
function sandbox(env: Record<string, string> = {}): Sandbox {
  const box = new Sandbox({
    GCE_METADATA_HOST: `127.0.0.1:${closedPort}`,
    NO_PROXY: '127.0.0.1,localhost',
    ...(proxy === undefined ? {} : { HTTPS_PROXY: proxy.url }),
    ...(certificate === undefined ? {} : { NODE_EXTRA_CA_CERTS: certificate.certPath }),
    ...env,
  })
  sandboxes.push(box)
  return box
}

function writeJson(box: Sandbox, name: string, value: unknown): string {
  const path = box.file(name)
  writeFileSync(path, JSON.stringify(value, null, 2), { mode: 0o600 })
  return path
}

interface GetJson { value: string; expiresAt: string; source: string; served: string }

describe('gcp source: access tokens', () => {
  it('ADC from GOOGLE_APPLICATION_CREDENTIALS (a service-account key): the JWT assertion is verified, expiry round-trips, the cache serves', async (t) => {
    if (tokenEndpointMissing(t)) return
    const box = sandbox()
    const keyPath = writeJson(box, 'ci-key.json', ciKey)
    box.env.GOOGLE_APPLICATION_CREDENTIALS = keyPath
    box.writeConfig(`[profiles.vertex]\nsource = "gcp"\n[profiles.vertex.gcp]\nscopes = ["${CLOUD_PLATFORM}"]\n`)
    const before = google.requests.length
    const got = await box.run(['get', 'vertex', '--json'])
    assert.equal(got.code, 0, got.stderr)
    const json = JSON.parse(got.stdout) as GetJson
    const issued = tokens.accessTokens.get(json.value)
    assert.ok(issued, 'the value is a token the stub issued')
    assert.equal(issued.principal, CI_SA)
    assert.deepEqual(issued.scopes, [CLOUD_PLATFORM])
    assert.ok(Math.abs(Date.parse(json.expiresAt) - issued.expiresAtMs) < 2_000, `expiresAt ${json.expiresAt} is the token's expiry`)
    const tokenRequests = google.requests.slice(before).filter((r) => r.kind === 'urn:ietf:params:oauth:grant-type:jwt-bearer')
    assert.equal(tokenRequests.length, 1)
    assert.equal(tokenRequests[0]!.status, 200)
    assert.ok(proxy!.requests.some((r) => r.method === 'CONNECT' && r.url === 'oauth2.googleapis.com:443'), 'the library called Google\'s fixed token URL')
    const again = await box.run(['get', 'vertex'], { distinctCaller: true })
    assert.equal(oneLineStdout(again.stdout), json.value, 'served from the daemon cache')
    assert.equal(google.requests.slice(before).filter((r) => r.kind.includes('jwt-bearer')).length, 1, 'no second token request')
    await assertSecretsKept(box, [json.value, ciKey.private_key!.split('\n')[1]!], got.stderr + again.stderr)
  })

  it('a key by reference, impersonating through a delegate with a 2h lifetime', async (t) => {
    if (tokenEndpointMissing(t)) return
    const box = sandbox()
    const keyPath = writeJson(box, 'ci-key.json', ciKey)
    box.writeConfig(`[profiles.gw]
source = "gcp"
[profiles.gw.gcp]
credentials = "file:${keyPath}"
impersonate = "${GATEWAY_SA}"
delegates = ["${DELEGATE_SA}"]
lifetime = "2h"
scopes = ["${CLOUD_PLATFORM}", "https://www.googleapis.com/auth/userinfo.email"]
iam_endpoint = "${google.url}"
`)
    const before = google.requests.length
    lifetimeExtensionAllowed.add(GATEWAY_SA)
    const got = await box.run(['get', 'gw', '--json'])
    lifetimeExtensionAllowed.delete(GATEWAY_SA)
    assert.equal(got.code, 0, got.stderr)
    const json = JSON.parse(got.stdout) as GetJson
    const issued = tokens.accessTokens.get(json.value)
    assert.equal(issued?.principal, GATEWAY_SA)
    const generate = google.requests.slice(before).find((r) => r.kind === 'generateAccessToken')
    assert.ok(generate, 'generateAccessToken was called')
    assert.equal(generate.principal, CI_SA, 'called with the key\'s own token')
    assert.deepEqual(generate.body, {
      delegates: [DELEGATE_SA],
      scope: [CLOUD_PLATFORM, 'https://www.googleapis.com/auth/userinfo.email'],
      lifetime: '7200s',
    })
    // The expiry ccred reports is the one Google set (expireTime has whole seconds), not a wall-clock guess.
    assert.ok(Math.abs(Date.parse(json.expiresAt) - issued!.expiresAtMs) < 1_000, `a 2h token (ccred says ${json.expiresAt}, Google set ${new Date(issued!.expiresAtMs).toISOString()})`)
    await assertSecretsKept(box, [json.value], got.stderr)

    // Without the org policy, Google refuses over 1 h: a clear error that gives the limit.
    const refused = await box.run(['get', 'gw', '--refresh'], { distinctCaller: true })
    assert.equal(refused.code, 7, refused.stderr)
    assert.equal(refused.stdout, '')
    assert.match(refused.stderr, new RegExp(`gcp: Google refused a 2h token lifetime for ${GATEWAY_SA.replace(/\./g, '\\.')} \\(INVALID_ARGUMENT: The lifetime must be between 1s and 3600s`))
    assert.match(refused.stderr, /\[ERR_SOURCE_DENIED\] — the limit is 1h unless an organization policy \(constraints\/iam\.allowServiceAccountCredentialLifetimeExtension\) lists .*, then 12h: set lifetime = "1h" in \[profiles\.gw\.gcp\]/)
    assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line')
  })

  it('gcloud user ADC (authorized_user in ~/.config/gcloud); a reauth demand says to log in again', async (t) => {
    if (tokenEndpointMissing(t)) return
    const box = sandbox()
    const gcloudDir = join(box.home, '.config', 'gcloud')
    mkdirSync(gcloudDir, { recursive: true })
    const adc = (refreshToken: string) => writeFileSync(join(gcloudDir, 'application_default_credentials.json'), JSON.stringify({
      client_id: '764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com',
      client_secret: 'd-FL95Q19q7MQmFpd7hHD0Ty',
      refresh_token: refreshToken,
      type: 'authorized_user',
    }))
    adc(USER_REFRESH_TOKEN)
    box.writeConfig('[profiles.me]\nsource = "gcp"\n')
    const got = await box.run(['get', 'me'])
    assert.equal(got.code, 0, got.stderr)
    assert.equal(tokens.accessTokens.get(oneLineStdout(got.stdout))?.principal, USER)

    adc(REAUTH_REFRESH_TOKEN)
    const refused = await box.run(['get', 'me', '--refresh'])
    assert.equal(refused.code, 9, refused.stderr)
    assert.match(refused.stderr, /sign in again \(reauthentication\).*invalid_rapt.*\[ERR_LOGIN_REQUIRED\] — run: gcloud auth application-default login/)
    assert.ok(!refused.stderr.includes(REAUTH_REFRESH_TOKEN))
    await assertSecretsKept(box, [USER_REFRESH_TOKEN, REAUTH_REFRESH_TOKEN, oneLineStdout(got.stdout)], got.stderr + refused.stderr)
  })

  it('the metadata server (GCE_METADATA_HOST): access token with the asked scopes', async () => {
    const box = sandbox({ GCE_METADATA_HOST: metadata.host })
    box.writeConfig(`[profiles.vm]\nsource = "gcp"\n[profiles.vm.gcp]\nscopes = ["${CLOUD_PLATFORM}"]\n`)
    const got = await box.run(['get', 'vm', '--json'])
    assert.equal(got.code, 0, got.stderr)
    const json = JSON.parse(got.stdout) as GetJson
    const issued = tokens.accessTokens.get(json.value)
    assert.equal(issued?.principal, VM_SA)
    assert.deepEqual(issued?.scopes, [CLOUD_PLATFORM])
    assert.ok(Math.abs(Date.parse(json.expiresAt) - issued.expiresAtMs) < 2_000)
    assert.ok(metadata.requests.some((r) => r.path.endsWith('/service-accounts/default/token') && r.query.scopes === CLOUD_PLATFORM))
    await assertSecretsKept(box, [json.value], got.stderr)
  })

  it('workload identity federation (external_account with an OIDC token file): STS exchange, then service-account impersonation', async () => {
    const box = sandbox()
    const oidcFile = box.file('ci-oidc-token')
    writeFileSync(oidcFile, CI_OIDC_TOKEN)
    const config = writeJson(box, 'wif.json', {
      type: 'external_account',
      audience: WIF_AUDIENCE,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${google.url}/v1/token`,
      service_account_impersonation_url: `${google.url}/v1/projects/-/serviceAccounts/${GATEWAY_SA}:generateAccessToken`,
      credential_source: { file: oidcFile },
    })
    box.writeConfig(`[profiles.ci]\nsource = "gcp"\n[profiles.ci.gcp]\ncredentials = "file:${config}"\n`)
    const before = google.requests.length
    const got = await box.run(['get', 'ci', '--json'])
    assert.equal(got.code, 0, got.stderr)
    const json = JSON.parse(got.stdout) as GetJson
    assert.equal(tokens.accessTokens.get(json.value)?.principal, GATEWAY_SA)
    const calls = google.requests.slice(before)
    const exchange = calls.find((r) => r.kind === 'sts.token')
    assert.equal(exchange?.status, 200)
    assert.equal(exchange?.body?.audience, WIF_AUDIENCE)
    assert.equal(exchange?.body?.subject_token_type, 'urn:ietf:params:oauth:token-type:jwt')
    assert.equal(calls.find((r) => r.kind === 'generateAccessToken')?.principal, WIF_PRINCIPAL)
    await assertSecretsKept(box, [json.value, CI_OIDC_TOKEN], got.stderr)

    // An ID token from a federated identity needs a service account to mint it.
    box.writeConfig(`[profiles.ci]\nsource = "gcp"\n[profiles.ci.gcp]\ncredentials = "file:${config}"\ntoken = "id_token"\naudience = "https://gw.example.com"\n`)
    const idToken = await box.run(['get', 'ci'])
    assert.equal(idToken.code, 3, idToken.stderr)
    assert.match(idToken.stderr, /cannot mint ID tokens by themselves \[ERR_CONFIG\] — set impersonate = /)
  })
})

describe('gcp source: ID tokens', () => {
  it('from the metadata server identity endpoint: audience and expiry come from the token', async () => {
    const box = sandbox({ GCE_METADATA_HOST: metadata.host })
    box.writeConfig('[profiles.iap]\nsource = "gcp"\n[profiles.iap.gcp]\ntoken = "id_token"\naudience = "https://gateway.run.app"\n')
    const got = await box.run(['get', 'iap', '--json'])
    assert.equal(got.code, 0, got.stderr)
    const json = JSON.parse(got.stdout) as GetJson
    const claims = jwtClaims(json.value)
    assert.equal(claims.aud, 'https://gateway.run.app')
    assert.equal(claims.email, VM_SA)
    assert.equal(Date.parse(json.expiresAt), (claims.exp as number) * 1000)
    assert.ok(metadata.requests.some((r) => r.path.endsWith('/identity') && r.query.audience === 'https://gateway.run.app' && r.query.format === 'full'))
    await assertSecretsKept(box, [json.value], got.stderr)
  })

  it('through impersonation (generateIdToken) from gcloud user ADC', async (t) => {
    if (tokenEndpointMissing(t)) return
    const box = sandbox()
    const gcloudDir = join(box.home, '.config', 'gcloud')
    mkdirSync(gcloudDir, { recursive: true })
    writeFileSync(join(gcloudDir, 'application_default_credentials.json'), JSON.stringify({
      client_id: 'cid.apps.googleusercontent.com', client_secret: 'cs', refresh_token: USER_REFRESH_TOKEN, type: 'authorized_user',
    }))
    box.writeConfig(`[profiles.iap]
source = "gcp"
header = "proxy-authorization"
[profiles.iap.gcp]
token = "id_token"
audience = "123-abc.apps.googleusercontent.com"
impersonate = "${GATEWAY_SA}"
iam_endpoint = "${google.url}"
`)
    const before = google.requests.length
    const got = await box.run(['get', 'iap'])
    assert.equal(got.code, 0, got.stderr)
    const header = oneLineStdout(got.stdout)
    assert.match(header, /^Bearer ey/)
    const claims = jwtClaims(header.slice('Bearer '.length))
    assert.equal(claims.aud, '123-abc.apps.googleusercontent.com')
    assert.equal(claims.email, GATEWAY_SA)
    const generate = google.requests.slice(before).find((r) => r.kind === 'generateIdToken')
    assert.equal(generate?.principal, USER)
    assert.equal(generate?.body?.includeEmail, true)
  })
})

describe('gcp source: errors', () => {
  it('no ADC anywhere: the message lists each place looked at and the gcloud command', async () => {
    const box = sandbox()
    box.writeConfig('[profiles.vertex]\nsource = "gcp"\n')
    const got = await box.run(['get', 'vertex'])
    assert.equal(got.code, 9, got.stderr)
    assert.equal(got.stdout, '')
    const line = got.stderr.trim()
    assert.equal(line.split('\n').length, 1, 'one line')
    assert.match(line, /no Application Default Credentials found; looked at: GOOGLE_APPLICATION_CREDENTIALS \(not set/)
    assert.ok(line.includes(join(box.home, '.config', 'gcloud', 'application_default_credentials.json')), line)
    assert.ok(line.includes(`the metadata server at 127.0.0.1:${closedPort} (GCE_METADATA_HOST; not reachable)`), line)
    assert.match(line, /\[ERR_LOGIN_REQUIRED\] — on a laptop run: gcloud auth application-default login/)
  })

  it('an invalid key file is a config error that never echoes the file', async () => {
    const box = sandbox()
    const notJson = box.file('broken.json')
    writeFileSync(notJson, '-----BEGIN PRIVATE KEY-----\nMIIEsecretsecret\n-----END PRIVATE KEY-----\n')
    const noKey = writeJson(box, 'nokey.json', { type: 'service_account', client_email: CI_SA })
    box.writeConfig(`[profiles.a]\nsource = "gcp"\n[profiles.a.gcp]\ncredentials = "file:${notJson}"\n[profiles.b]\nsource = "gcp"\n[profiles.b.gcp]\ncredentials = "file:${noKey}"\n`)
    const a = await box.run(['get', 'a'])
    assert.equal(a.code, 3, a.stderr)
    assert.match(a.stderr, /profiles\.a\.gcp\.credentials \(file:.*broken\.json\) is not a usable credentials file: it is not JSON \[ERR_CONFIG\] — use a service-account key/)
    assert.ok(!a.stderr.includes('MIIEsecret'))
    const b = await box.run(['get', 'b'])
    assert.equal(b.code, 3, b.stderr)
    assert.match(b.stderr, /a service_account key needs "client_email" and "private_key"/)
  })

  it('a key Google does not know (deleted): refused, exit 7', async (t) => {
    if (tokenEndpointMissing(t)) return
    const box = sandbox()
    const stranger = writeJson(box, 'old-key.json', makeServiceAccountKey('deleted@acme-ci.iam.gserviceaccount.com').json)
    box.writeConfig(`[profiles.old]\nsource = "gcp"\n[profiles.old.gcp]\ncredentials = "file:${stranger}"\n`)
    const got = await box.run(['get', 'old'])
    assert.equal(got.code, 7, got.stderr)
    assert.match(got.stderr, /Google refused profiles\.old\.gcp\.credentials: invalid_grant: Invalid JWT Signature\. \[ERR_SOURCE_DENIED\]/)
  })

  it('impersonation denied: names the service account and the missing role', async (t) => {
    if (tokenEndpointMissing(t)) return
    const box = sandbox()
    const keyPath = writeJson(box, 'ci-key.json', ciKey)
    box.writeConfig(`[profiles.locked]\nsource = "gcp"\n[profiles.locked.gcp]\ncredentials = "file:${keyPath}"\nimpersonate = "${LOCKED_SA}"\niam_endpoint = "${google.url}"\n`)
    const got = await box.run(['get', 'locked'])
    assert.equal(got.code, 7, got.stderr)
    assert.match(got.stderr, new RegExp(`permission denied impersonating ${LOCKED_SA.replace(/\./g, '\\.')}: the caller needs roles/iam\\.serviceAccountTokenCreator on it \\(PERMISSION_DENIED: Permission 'iam\\.serviceAccounts\\.getAccessToken' denied`))
    assert.match(got.stderr, /\[ERR_SOURCE_DENIED\] — grant it: gcloud iam service-accounts add-iam-policy-binding no-access@acme-prod\.iam\.gserviceaccount\.com --member=<your principal> --role=roles\/iam\.serviceAccountTokenCreator/)
    const status = JSON.parse((await box.run(['status', '--json'])).stdout) as { profiles: { profile: string; lastError?: { code: string } }[] }
    assert.equal(status.profiles.find((p) => p.profile === 'locked')?.lastError?.code, 'ERR_SOURCE_DENIED')
  })

  it('config mistakes are reported together, per key', async () => {
    const box = sandbox()
    box.writeConfig(`[profiles.bad]
source = "gcp"
[profiles.bad.gcp]
token = "id_token"
scopes = ["x"]
credentials = "/etc/key.json"
delegates = ["someone"]
lifetime = "13h"
colour = "blue"
`)
    const got = await box.run(['profiles'])
    assert.equal(got.code, 3)
    for (const expected of [
      /profiles\.bad\.gcp\.audience: is required with token = "id_token"/,
      /profiles\.bad\.gcp\.scopes: only applies with token = "access_token"/,
      /profiles\.bad\.gcp\.credentials: expected a reference/,
      /profiles\.bad\.gcp\.lifetime: "13h" is too long/,
      /profiles\.bad\.gcp\.delegates: only applies with impersonate/,
      /profiles\.bad\.gcp\.colour: unknown key/,
    ]) assert.match(got.stdout + got.stderr, expected)
  })
})

describe('gcp source: refresh-ahead on a fake clock', () => {
  it('renews a metadata-server token before callers would find it too short, without a blocking fetch', async () => {
    // In this process: the real service and broker on a FakeClock, the real library, the stub.
    const saved = { GCE_METADATA_HOST: process.env.GCE_METADATA_HOST, GOOGLE_APPLICATION_CREDENTIALS: process.env.GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_CONFIG: process.env.CLOUDSDK_CONFIG }
    const box = sandbox()
    process.env.GCE_METADATA_HOST = metadata.host
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS
    process.env.CLOUDSDK_CONFIG = box.file('no-gcloud')
    const clock = new FakeClock(Date.now())
    box.writeConfig('[profiles.vm]\nsource = "gcp"\n')
    const service = new CredentialService({ env: box.env, clock, configPath: box.configPath, explicitConfig: true, store: new MemoryStore() })
    try {
      const tokenCalls = () => metadata.requests.filter((r) => r.path.endsWith('/default/token')).length
      const first = withText(await service.get({ profile: 'vm', callerTtlMs: 300_000 }))
      assert.equal(first.served, 'fetch')
      const calls = tokenCalls()
      // 300 s TTL + 60 s skew + 60 s lead: the refresh is due 420 s before expiry. The expiry comes
      // from the library's real clock after its first load, so the lead is taken from what it returned.
      const lifetimeMs = Date.parse(first.expiresAt!) - clock.now()
      clock.advance(lifetimeMs - 420_000 - 5_000)
      assert.equal(tokenCalls(), calls, 'not yet')
      clock.advance(10_000)
      await waitFor(async () => (await service.status()).profiles[0]?.refreshing === false && tokenCalls() === calls + 1, 'the refresh-ahead fetch')
      const second = withText(await service.get({ profile: 'vm', callerTtlMs: 300_000 }))
      assert.equal(second.served, 'hit', 'no caller waited on the network')
      assert.notEqual(second.value, first.value)
      assert.equal(tokens.accessTokens.get(second.value)?.principal, VM_SA)
    } finally {
      await service.close()
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })
})
