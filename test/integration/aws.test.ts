// The aws source end to end: the real CLI and daemon, the real @aws-sdk credential providers and
// AWS's Bedrock token generator, against loopback stand-ins (test/helpers/aws-servers.ts): the
// container credentials endpoint, STS (via sts_endpoint) and the IAM Identity Center portal (via
// AWS_ENDPOINT_URL_SSO), with ini and SSO files in the sandbox's HOME.
import { EXIT_CODES } from '../../src/errors.js'
import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Hash } from '@smithy/hash-node'
import { SignJWT } from 'jose'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { CredentialService } from '../../src/service/service.js'
import { FakeClock } from '../../src/clock.js'
import { MemoryStore } from '../../src/store/memory.js'
import {
  AwsKeyring,
  startContainerCredentials,
  startSsoPortal,
  startSts,
  type AwsKey,
  type ContainerRequest,
  type SsoRequest,
  type StsRequest,
  type StubServer,
} from '../helpers/aws-servers.js'
import { Sandbox, waitFor, oneLineStdout, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'
import { assertSecretsKept } from '../helpers/secrets.js'
import { withText } from '../helpers/issued.js'

const ROLE = 'arn:aws:iam::123456789012:role/claude-bedrock'
const CI_ROLE = 'arn:aws:iam::123456789012:role/ci-bedrock'
const FORBIDDEN_ROLE = 'arn:aws:iam::123456789012:role/admin'
const EXTERNAL_ID = 'ext-7f3a'
const CONTAINER_TOKEN = 'container-auth-token-5f1e'
/** The CI identity provider STS trusts; its token is a real signed JWT (made in before()). */
const CI_ISSUER = 'https://token.actions.githubusercontent.com'
const ciKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' })
let WEB_IDENTITY_TOKEN: string
const SSO_ACCESS_TOKEN = 'aoaAAAAAGh-sso-access-token'

let keyring: AwsKeyring
let container: StubServer<ContainerRequest> & { issued: AwsKey[] }
let sts: StubServer<StsRequest>
let sso: StubServer<SsoRequest>
let iniUser: AwsKey
const sandboxes = sandboxesCleanedUpAfterAll()

before(async () => {
  keyring = new AwsKeyring()
  iniUser = keyring.longTerm('arn:aws:iam::123456789012:user/dev')
  container = await startContainerCredentials({ keyring, authorizationToken: CONTAINER_TOKEN })
  // ROLE's administrator raised its maximum session duration to 2 h; CI_ROLE keeps the default 1 h.
  WEB_IDENTITY_TOKEN = await new SignJWT({ repository: 'acme/app' }).setProtectedHeader({ alg: 'ES256', kid: 'ci-1' })
    .setIssuer(CI_ISSUER).setSubject('repo:acme/app:ref:refs/heads/main').setAudience('sts.amazonaws.com').setIssuedAt().setExpirationTime('1h')
    .sign(ciKeys.privateKey)
  sts = await startSts({ keyring, roles: [ROLE, CI_ROLE], webIdentity: { issuer: CI_ISSUER, keys: async () => ciKeys.publicKey }, externalId: EXTERNAL_ID, maxSessionDurationS: new Map([[ROLE, 7200]]) })
  sso = await startSsoPortal({ keyring, accessToken: SSO_ACCESS_TOKEN })
})

after(async () => {
  await Promise.all([container?.close(), sts?.close(), sso?.close()])
})

/** A sandbox whose daemon reaches no real AWS endpoint (no instance metadata, no ~/.aws of the runner). */
function sandbox(env: Record<string, string> = {}): Sandbox {
  const box = new Sandbox({ AWS_EC2_METADATA_DISABLED: 'true', ...env })
  sandboxes.push(box)
  return box
}

function containerEnv(token = CONTAINER_TOKEN): Record<string, string> {
  return { AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/v2/credentials/task-1`, AWS_CONTAINER_AUTHORIZATION_TOKEN: token }
}

function writeAwsFile(box: Sandbox, name: 'config' | 'credentials', text: string): void {
  mkdirSync(join(box.home, '.aws'), { recursive: true })
  writeFileSync(join(box.home, '.aws', name), text, { mode: 0o600 })
}

interface Exported { Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration?: string } }

function exported(stdout: string): Exported['Credentials'] {
  const parsed = JSON.parse(oneLineStdout(stdout)) as Exported
  assert.deepEqual(Object.keys(parsed), ['Credentials'])
  return parsed.Credentials
}

/**
 * A Bedrock API key is "bedrock-api-key-" + base64 of a SigV4-presigned
 * `POST https://bedrock.amazonaws.com/?Action=CallWithBearerToken` URL (without the
 * scheme) + "&Version=1". Decodes it and checks the signature with the key's secret.
 */
async function decodeBedrockKey(value: string, key: AwsKey): Promise<{ url: URL; region: string; expiresInSeconds: number; signedAtMs: number }> {
  assert.match(value, /^bedrock-api-key-[A-Za-z0-9+/=]+$/)
  const decoded = Buffer.from(value.slice('bedrock-api-key-'.length), 'base64').toString('utf8')
  assert.match(decoded, /^bedrock\.amazonaws\.com\/\?Action=CallWithBearerToken&.*&Version=1$/)
  const url = new URL(`https://${decoded.replace(/&Version=1$/, '')}`)
  const credential = url.searchParams.get('X-Amz-Credential')!.split('/')
  assert.equal(credential[0], key.accessKeyId)
  assert.equal(credential[3], 'bedrock')
  assert.equal(url.searchParams.get('X-Amz-Security-Token') ?? undefined, key.sessionToken)
  const amzDate = url.searchParams.get('X-Amz-Date')!
  const signedAtMs = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'))
  const expiresInSeconds = Number(url.searchParams.get('X-Amz-Expires'))
  // Recompute the presigned signature with the same inputs.
  const signer = new SignatureV4({
    service: 'bedrock',
    region: credential[2]!,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, ...(key.sessionToken === undefined ? {} : { sessionToken: key.sessionToken }) },
    sha256: Hash.bind(null, 'sha256'),
  })
  const presigned = await signer.presign(
    new HttpRequest({ method: 'POST', protocol: 'https:', hostname: 'bedrock.amazonaws.com', headers: { host: 'bedrock.amazonaws.com' }, path: '/', query: { Action: 'CallWithBearerToken' } }),
    { expiresIn: expiresInSeconds, signingDate: new Date(signedAtMs) },
  )
  assert.equal(url.searchParams.get('X-Amz-Signature'), presigned.query?.['X-Amz-Signature'], 'the presigned signature checks out with the secret key')
  return { url, region: credential[2]!, expiresInSeconds, signedAtMs }
}

describe('aws source: credentials for awsCredentialExport', () => {
  it('container credentials through the default chain: aws-export prints the STS shape, Expiration round-trips, the cache serves', async () => {
    const box = sandbox(containerEnv())
    box.writeConfig('[profiles.bedrock]\nsource = "aws"\n')
    const got = await box.run(['aws-export', 'bedrock'])
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stderr, '')
    const credentials = exported(got.stdout)
    const issued = container.issued.find((key) => key.accessKeyId === credentials.AccessKeyId)
    assert.ok(issued, 'credentials from the container endpoint')
    assert.deepEqual(credentials, {
      AccessKeyId: issued.accessKeyId,
      SecretAccessKey: issued.secretAccessKey,
      SessionToken: issued.sessionToken,
      Expiration: issued.expiration!.toISOString(),
    })
    assert.ok(container.requests.every((r) => r.authorization === CONTAINER_TOKEN))
    const json = JSON.parse((await box.run(['get', 'bedrock', '--json'], { distinctCaller: true })).stdout) as { value: string; expiresAt: string; served: string }
    assert.equal(json.expiresAt, issued.expiration!.toISOString(), 'the broker keeps the expiry AWS gave')
    assert.equal(json.served, 'hit')
    const again = await box.run(['aws-export', 'bedrock'], { distinctCaller: true })
    assert.equal(exported(again.stdout).AccessKeyId, issued.accessKeyId, 'served from the cache')

    const env = await box.run(['env', 'bedrock'], { distinctCaller: true })
    assert.equal(env.code, 0, env.stderr)
    assert.equal(env.stdout, [
      `export AWS_ACCESS_KEY_ID='${issued.accessKeyId}'`,
      `export AWS_SECRET_ACCESS_KEY='${issued.secretAccessKey}'`,
      `export AWS_SESSION_TOKEN='${issued.sessionToken}'`,
      `export AWS_CREDENTIAL_EXPIRATION='${issued.expiration!.toISOString()}'`,
    ].join('\n') + '\n')
    await assertSecretsKept(box, [issued.secretAccessKey, issued.sessionToken!, CONTAINER_TOKEN], got.stderr + again.stderr)
  })

  it('assume-role on an ini profile: SigV4 with the profile\'s key, external id, session name and duration', async () => {
    const box = sandbox()
    writeAwsFile(box, 'credentials', `[dev]\naws_access_key_id = ${iniUser.accessKeyId}\naws_secret_access_key = ${iniUser.secretAccessKey}\n`)
    box.writeConfig(`[profiles.role]
source = "aws"
[profiles.role.aws]
profile = "dev"
region = "eu-west-1"
role_arn = "${ROLE}"
external_id = "${EXTERNAL_ID}"
session_name = "claude-dev"
duration = "2h"
sts_endpoint = "${sts.url}"
`)
    const before = sts.requests.length
    const got = await box.run(['aws-export', 'role'])
    assert.equal(got.code, 0, got.stderr)
    const credentials = exported(got.stdout)
    const call = sts.requests.slice(before).find((r) => r.action === 'AssumeRole')
    assert.ok(call, 'AssumeRole was called')
    assert.equal(call.status, 200)
    assert.equal(call.callerAccessKeyId, iniUser.accessKeyId, 'signed with the ini profile\'s key (signature verified)')
    assert.equal(call.params.RoleArn, ROLE)
    assert.equal(call.params.RoleSessionName, 'claude-dev')
    assert.equal(call.params.DurationSeconds, '7200')
    assert.equal(call.params.ExternalId, EXTERNAL_ID)
    assert.equal(credentials.AccessKeyId, call.issued!.accessKeyId)
    assert.equal(credentials.Expiration, call.issued!.expiration!.toISOString())
    // (The 2 h itself: DurationSeconds above, and the expiration is the one STS issued; no wall-clock bound.)
    await assertSecretsKept(box, [credentials.SecretAccessKey, credentials.SessionToken, iniUser.secretAccessKey], got.stderr)
  })

  it('assume-role for longer than the role allows: STS\'s ValidationError, said as a config error with the limits', async () => {
    const box = sandbox()
    writeAwsFile(box, 'credentials', `[dev]\naws_access_key_id = ${iniUser.accessKeyId}\naws_secret_access_key = ${iniUser.secretAccessKey}\n`)
    box.writeConfig(`[profiles.role]
source = "aws"
[profiles.role.aws]
profile = "dev"
region = "eu-west-1"
role_arn = "${ROLE}"
external_id = "${EXTERNAL_ID}"
duration = "3h"
sts_endpoint = "${sts.url}"
`)
    const before = sts.requests.length
    const got = await box.run(['aws-export', 'role'])
    const call = sts.requests.slice(before).find((r) => r.action === 'AssumeRole')
    assert.equal(call?.params.DurationSeconds, '10800')
    assert.equal(call?.status, 400)
    assert.equal(got.stdout, '')
    assert.match(got.stderr, new RegExp(`AWS refused a 3h session for ${ROLE.replace(/[.*+?^$()|[\]\\/]/g, '\\$&')}: The requested DurationSeconds exceeds the MaxSessionDuration set for this role\\.`))
    assert.match(got.stderr, /\[ERR_CONFIG\] — duration must be from 15m up to the role's maximum session duration \(1h unless an administrator raised it, 12h at most/)
    assert.equal(got.stderr.trim().split('\n').length, 1, 'one line')
    assert.equal(got.code, 3, got.stderr)
    await assertSecretsKept(box, [iniUser.secretAccessKey], got.stderr)
  })

  it('web identity in CI (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN) through the default chain', async () => {
    const box = sandbox()
    const tokenFile = box.file('web-identity-token')
    writeFileSync(tokenFile, WEB_IDENTITY_TOKEN)
    Object.assign(box.env, { AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_ROLE_ARN: CI_ROLE, AWS_ROLE_SESSION_NAME: 'gha-run-42', AWS_REGION: 'us-east-1' })
    box.writeConfig(`[profiles.ci]\nsource = "aws"\n[profiles.ci.aws]\nsts_endpoint = "${sts.url}"\n`)
    const before = sts.requests.length
    const got = await box.run(['aws-export', 'ci'])
    assert.equal(got.code, 0, got.stderr)
    const credentials = exported(got.stdout)
    const call = sts.requests.slice(before).find((r) => r.action === 'AssumeRoleWithWebIdentity')
    assert.ok(call, 'AssumeRoleWithWebIdentity was called')
    assert.equal(call.params.RoleArn, CI_ROLE)
    assert.equal(call.params.RoleSessionName, 'gha-run-42')
    assert.equal(call.params.WebIdentityToken, WEB_IDENTITY_TOKEN)
    assert.equal(credentials.AccessKeyId, call.issued!.accessKeyId)
    await assertSecretsKept(box, [credentials.SecretAccessKey, WEB_IDENTITY_TOKEN], got.stderr)
  })

  it('an SSO profile from ~/.aws/config and the SSO token cache; an expired SSO login says to log in again', async () => {
    const box = sandbox({ AWS_ENDPOINT_URL_SSO: sso.url })
    writeAwsFile(box, 'config', `[profile dev-sso]
sso_session = acme
sso_account_id = 123456789012
sso_role_name = BedrockUser
region = us-west-2

[sso-session acme]
sso_start_url = https://acme.awsapps.com/start
sso_region = us-west-2
sso_registration_scopes = sso:account:access
`)
    const cacheDir = join(box.home, '.aws', 'sso', 'cache')
    mkdirSync(cacheDir, { recursive: true })
    // The SDK finds the login by the SHA-1 of the session name.
    const cacheFile = join(cacheDir, `${createHash('sha1').update('acme').digest('hex')}.json`)
    const login = (expiresAt: Date) => writeFileSync(cacheFile, JSON.stringify({
      startUrl: 'https://acme.awsapps.com/start', region: 'us-west-2', accessToken: SSO_ACCESS_TOKEN, expiresAt: expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      clientId: 'client-id', clientSecret: 'client-secret', registrationExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    }))
    login(new Date(Date.now() + 3_600_000))
    box.writeConfig('[profiles.sso]\nsource = "aws"\n[profiles.sso.aws]\nprofile = "dev-sso"\n')
    const got = await box.run(['aws-export', 'sso'])
    assert.equal(got.code, 0, got.stderr)
    const credentials = exported(got.stdout)
    assert.ok(sso.requests.some((r) => r.roleName === 'BedrockUser' && r.accountId === '123456789012' && r.status === 200))
    assert.ok(keyring.keys.get(credentials.AccessKeyId)?.principal.includes('AWSReservedSSO_BedrockUser'))

    login(new Date(Date.now() - 60_000))
    const expired = await box.run(['aws-export', 'sso', '--refresh'])
    assert.equal(expired.code, 9, expired.stderr)
    assert.match(expired.stderr, /no AWS credentials from AWS profile "dev-sso": .*\[ERR_LOGIN_REQUIRED\] — run: aws sso login --profile dev-sso/)
    assert.equal(expired.stdout, '')
    await assertSecretsKept(box, [credentials.SecretAccessKey, SSO_ACCESS_TOKEN], got.stderr + expired.stderr)
  })
})

describe('aws source: Bedrock API keys', () => {
  it('token = "bedrock-api-key": a presigned SigV4 URL for the region, capped by the credentials\' expiry; env sets AWS_BEARER_TOKEN_BEDROCK', async () => {
    const box = sandbox(containerEnv())
    box.writeConfig('[profiles.key]\nsource = "aws"\n[profiles.key.aws]\ntoken = "bedrock-api-key"\nregion = "us-west-2"\n')
    const got = await box.run(['get', 'key', '--json'])
    assert.equal(got.code, 0, got.stderr)
    const json = JSON.parse(got.stdout) as { value: string; expiresAt: string }
    const url = new URL(`https://${Buffer.from(json.value.slice('bedrock-api-key-'.length), 'base64').toString('utf8')}`)
    const key = keyring.keys.get(url.searchParams.get('X-Amz-Credential')!.split('/')[0]!)!
    const decoded = await decodeBedrockKey(json.value, key)
    assert.equal(decoded.region, 'us-west-2')
    // The container credentials live 6 h, less than the 12 h default: the key stops with them.
    assert.ok(Math.abs(decoded.signedAtMs + decoded.expiresInSeconds * 1000 - key.expiration!.getTime()) <= 2_000, `expires with the credentials (${decoded.expiresInSeconds} s)`)
    assert.ok(Math.abs(Date.parse(json.expiresAt) - (decoded.signedAtMs + decoded.expiresInSeconds * 1000)) <= 2_000, 'expiresAt is the key\'s own expiry')

    const env = await box.run(['env', 'key'], { distinctCaller: true })
    assert.equal(env.stdout, `export AWS_BEARER_TOKEN_BEDROCK='${json.value}'\n`)
    const exec = await box.run(['exec', 'key', '--', 'sh', '-c', 'printf %s "$AWS_BEARER_TOKEN_BEDROCK"'], { distinctCaller: true })
    assert.equal(exec.code, 0, exec.stderr)
    assert.equal(exec.stdout, json.value)
    const plain = await box.run(['get', 'key'], { distinctCaller: true })
    assert.equal(oneLineStdout(plain.stdout), json.value, 'as apiKeyHelper output: the bare key on one line')
    const refused = await box.run(['aws-export', 'key'], { distinctCaller: true })
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /makes a Bedrock API key \(token = "bedrock-api-key"\), not AWS credentials \[ERR_USAGE\]/)
    assert.equal(refused.stdout, '')
    await assertSecretsKept(box, [json.value, key.secretAccessKey], got.stderr + refused.stderr)
  })

  it('from AWS credentials that have already expired: a coded error, no key signed with them', async () => {
    // A container endpoint that hands out credentials which expired a minute ago (a clock gone wrong, a stale cache).
    const stale = await startContainerCredentials({ keyring, authorizationToken: CONTAINER_TOKEN, lifetimeMs: -60_000 })
    try {
      const box = sandbox({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `${stale.url}/v2/credentials/task-1`, AWS_CONTAINER_AUTHORIZATION_TOKEN: CONTAINER_TOKEN })
      box.writeConfig('[profiles.key]\nsource = "aws"\n[profiles.key.aws]\ntoken = "bedrock-api-key"\nregion = "us-west-2"\n')
      const got = await box.run(['get', 'key'], { timeoutMs: 60_000 })
      assert.equal(got.stdout, '')
      assert.ok(stale.requests.length > 0, 'the expired credentials were fetched')
      assert.match(got.stderr, /^ccred: profile key: aws: the AWS credentials have already expired; no Bedrock API key can be made from them \[ERR_SOURCE_OUTPUT\] — check the credential source \(aws sso login, the role session duration\) and the system clock\n$/)
      assert.equal(got.code, EXIT_CODES.ERR_SOURCE_OUTPUT, got.stderr)
      await assertSecretsKept(box, stale.issued.map((key) => key.secretAccessKey), got.stderr)
    } finally {
      await stale.close()
    }
  })

  it('from long-term ini keys with a configured lifetime', async () => {
    const box = sandbox()
    writeAwsFile(box, 'credentials', `[default]\naws_access_key_id = ${iniUser.accessKeyId}\naws_secret_access_key = ${iniUser.secretAccessKey}\n`)
    box.writeConfig('[profiles.key]\nsource = "aws"\n[profiles.key.aws]\ntoken = "bedrock-api-key"\nregion = "eu-central-1"\nlifetime = "2h"\n')
    const got = await box.run(['get', 'key', '--json'])
    assert.equal(got.code, 0, got.stderr)
    const json = JSON.parse(got.stdout) as { value: string; expiresAt: string }
    const decoded = await decodeBedrockKey(json.value, iniUser)
    assert.equal(decoded.region, 'eu-central-1')
    assert.equal(decoded.expiresInSeconds, 7200)
    assert.equal(decoded.url.searchParams.get('X-Amz-Security-Token'), null, 'long-term keys carry no session token')
  })
})

describe('aws source: errors', () => {
  it('assume-role denied names the role; long-term keys are refused for awsCredentialExport; a non-aws profile is refused', async () => {
    const box = sandbox()
    writeAwsFile(box, 'credentials', `[dev]\naws_access_key_id = ${iniUser.accessKeyId}\naws_secret_access_key = ${iniUser.secretAccessKey}\n`)
    box.writeConfig(`[profiles.admin]
source = "aws"
[profiles.admin.aws]
profile = "dev"
region = "eu-west-1"
role_arn = "${FORBIDDEN_ROLE}"
sts_endpoint = "${sts.url}"

[profiles.plain]
source = "aws"
[profiles.plain.aws]
profile = "dev"

[profiles.demo]
source = "demo"
`)
    const denied = await box.run(['aws-export', 'admin'])
    assert.equal(denied.code, 7, denied.stderr)
    assert.match(denied.stderr, /AWS refused to assume arn:aws:iam::123456789012:role\/admin: User: arn:aws:iam::123456789012:user\/dev is not authorized to perform: sts:AssumeRole/)
    assert.match(denied.stderr, /\[ERR_SOURCE_DENIED\] — check the role trust policy/)

    const longTerm = await box.run(['aws-export', 'plain'])
    assert.equal(longTerm.code, 8, longTerm.stderr)
    assert.match(longTerm.stderr, /long-term access keys \(no session token\).*\[ERR_SOURCE_OUTPUT\] — set role_arn in \[profiles\.plain\.aws\]/)

    const demo = await box.run(['aws-export', 'demo'])
    assert.equal(demo.code, 2)
    assert.match(demo.stderr, /profile demo has source "demo"; aws-export needs a profile with source = "aws" \[ERR_USAGE\]/)
    assert.equal(demo.stdout, '')
    await assertSecretsKept(box, [iniUser.secretAccessKey], denied.stderr + longTerm.stderr + demo.stderr)
  })

  it('the container endpoint refuses a wrong authorization token', async () => {
    const box = sandbox(containerEnv('wrong-token'))
    box.writeConfig('[profiles.task]\nsource = "aws"\n')
    const got = await box.run(['aws-export', 'task'])
    assert.notEqual(got.code, 0)
    assert.match(got.stderr, /no AWS credentials from the default AWS credential chain: .*looked at: AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY \(not set\); profile "default" in .*; web identity \(AWS_WEB_IDENTITY_TOKEN_FILE not set\); the container credentials endpoint http:\/\/127\.0\.0\.1:\d+\/v2\/credentials\/task-1 \(no usable answer\) \[ERR_LOGIN_REQUIRED\]/)
    assert.equal(got.stderr.trim().split('\n').length, 1, got.stderr)
    assert.ok(container.requests.some((r) => r.authorization === 'wrong-token' && r.status === 401))
    assert.ok(!got.stderr.includes('wrong-token'))
  })

  it('config mistakes are reported per key', async () => {
    const box = sandbox()
    box.writeConfig(`[profiles.bad]
source = "aws"
[profiles.bad.aws]
token = "bedrock-api-key"
lifetime = "13h"
external_id = "x"
role_arn = "claude"

[profiles.bad2]
source = "aws"
[profiles.bad2.aws]
lifetime = "1h"
secret_access_key = "AKIA..."
`)
    const got = await box.run(['profiles'])
    assert.equal(got.code, 3)
    const text = got.stdout + got.stderr
    for (const expected of [
      /profiles\.bad\.aws\.region: is required with token = "bedrock-api-key"/,
      /profiles\.bad\.aws\.lifetime: "13h" is too long/,
      /profiles\.bad\.aws\.role_arn: expected a role ARN/,
      /profiles\.bad2\.aws\.lifetime: only applies with token = "bedrock-api-key"/,
      /profiles\.bad2\.aws\.secret_access_key: unknown key/,
    ]) assert.match(text, expected)
    assert.ok(!text.includes('AKIA...'), 'an unknown key\'s value is not echoed')
  })
})

describe('aws source: refresh-ahead on a fake clock', () => {
  it('renews container credentials before awsCredentialExport callers would find them too short', async () => {
    const box = sandbox()
    const names = ['AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN', 'AWS_EC2_METADATA_DISABLED', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_WEB_IDENTITY_TOKEN_FILE']
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]))
    for (const name of names) delete process.env[name]
    Object.assign(process.env, containerEnv(), { AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: box.file('none-config'), AWS_SHARED_CREDENTIALS_FILE: box.file('none-credentials') })
    const clock = new FakeClock(Date.now())
    box.writeConfig('[profiles.task]\nsource = "aws"\n')
    const service = new CredentialService({ env: box.env, clock, configPath: box.configPath, explicitConfig: true, store: new MemoryStore() })
    try {
      const fetches = () => container.requests.length
      const first = withText(await service.get({ profile: 'task', callerTtlMs: 360_000 }))
      assert.equal(first.served, 'fetch')
      const count = fetches()
      // 6 h credentials, 6 min TTL + 60 s skew, 60 s lead: due 8 min before expiry.
      const lifetimeMs = Date.parse(first.expiresAt!) - clock.now()
      clock.advance(lifetimeMs - 8 * 60_000 - 5_000)
      assert.equal(fetches(), count, 'not yet')
      clock.advance(10_000)
      await waitFor(async () => (await service.status()).profiles[0]?.refreshing === false && fetches() === count + 1, 'the refresh-ahead fetch')
      const second = withText(await service.get({ profile: 'task', callerTtlMs: 360_000 }))
      assert.equal(second.served, 'hit')
      assert.notEqual(JSON.parse(second.value).Credentials.AccessKeyId, JSON.parse(first.value).Credentials.AccessKeyId)
    } finally {
      await service.close()
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name]
        else process.env[name] = saved[name]
      }
    }
  })
})
