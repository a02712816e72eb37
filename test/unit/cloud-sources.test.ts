// Option parsing and error mapping of the gcp and aws sources, and how their values are exported.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { awsCredentialError } from '../../src/aws/credentials.js'
import { parseConfig } from '../../src/profiles/load.js'
import { envVariables } from '../../src/output/format.js'

async function profile(toml: string, name = 'p'): Promise<{ options?: unknown; error?: string; secretName?: string }> {
  const config = await parseConfig(toml, 'config.toml', { path: 'config.toml', fromFile: true, stamp: '1' })
  const invalid = config.invalidProfiles.get(name)
  if (invalid !== undefined) return { error: invalid.message }
  const loaded = config.profiles.get(name)!
  return { options: loaded.source.options, secretName: loaded.source.storedSecretName() }
}

describe('gcp options', () => {
  it('defaults: an access token for cloud-platform from ADC', async () => {
    const { options } = await profile('[profiles.p]\nsource = "gcp"\n')
    assert.deepEqual(options, {
      token: 'access_token',
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      audience: undefined,
      credentials: undefined,
      impersonate: undefined,
      delegates: [],
      lifetimeMs: 3_600_000,
      timeoutMs: 30_000,
      iamEndpoint: undefined,
    })
  })

  it('an ID token through impersonation, with the key in the keychain (ccred set knows its name)', async () => {
    const { options, secretName } = await profile(`[profiles.p]
source = "gcp"
[profiles.p.gcp]
token = "id_token"
audience = "https://gw.example.com"
credentials = "keychain:gcp-ci-key"
impersonate = "gw@proj.iam.gserviceaccount.com"
delegates = ["d@proj.iam.gserviceaccount.com"]
iam_endpoint = "https://iamcredentials-psc.p.googleapis.com/"
`)
    assert.deepEqual(options, {
      token: 'id_token',
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      audience: 'https://gw.example.com',
      credentials: { kind: 'keychain', target: 'gcp-ci-key' },
      impersonate: 'gw@proj.iam.gserviceaccount.com',
      delegates: ['d@proj.iam.gserviceaccount.com'],
      lifetimeMs: 3_600_000,
      timeoutMs: 30_000,
      iamEndpoint: 'https://iamcredentials-psc.p.googleapis.com',
    })
    assert.equal(secretName, 'gcp-ci-key')
  })

  it('a key written inline is refused without echoing it', async () => {
    const { error } = await profile('[profiles.p]\nsource = "gcp"\n[profiles.p.gcp]\ncredentials = \'{"type": "service_account", "private_key": "-----BEGIN"}\'\n')
    assert.match(error!, /profiles\.p\.gcp\.credentials: expected a reference "env:NAME", "file:PATH" or "keychain:NAME"; secrets are never written in the config file/)
    assert.ok(!error!.includes('BEGIN'))
  })

  it('every mistake at once, each naming its key', async () => {
    const { error } = await profile(`[profiles.p]
source = "gcp"
[profiles.p.gcp]
token = "refresh_token"
impersonate = "not-an-email"
lifetime = "0s"
iam_endpoint = "iamcredentials.googleapis.com"
audience = "x"
`)
    for (const expected of [
      /profiles\.p\.gcp\.token: expected one of "access_token", "id_token", got "refresh_token"/,
      /profiles\.p\.gcp\.impersonate: expected a service account email/,
      /profiles\.p\.gcp\.lifetime: "0s" is too short/,
      /profiles\.p\.gcp\.iam_endpoint: expected a base URL/,
      /profiles\.p\.gcp\.audience: only applies with token = "id_token"/,
    ]) assert.match(error!, expected)
  })

  it('the gcp table must be a table', async () => {
    const { error } = await profile('[profiles.p]\nsource = "gcp"\ngcp = "adc"\n')
    assert.match(error!, /profiles\.p\.gcp: expected a table, got a string/)
  })
})

describe('aws options', () => {
  it('defaults: credentials from the default chain', async () => {
    const { options } = await profile('[profiles.p]\nsource = "aws"\n')
    assert.deepEqual(options, { token: 'credentials', credentials: {}, bedrockKeyLifetimeMs: 43_200_000 })
  })

  it('a Bedrock API key from an assumed role', async () => {
    const { options } = await profile(`[profiles.p]
source = "aws"
[profiles.p.aws]
token = "bedrock-api-key"
region = "us-west-2"
lifetime = "8h"
profile = "sso-dev"
role_arn = "arn:aws:iam::123456789012:role/bedrock"
external_id = "x1"
session_name = "ccred-me"
duration = "1h"
sts_endpoint = "https://sts.us-west-2.amazonaws.com"
`)
    assert.deepEqual(options, {
      token: 'bedrock-api-key',
      bedrockKeyLifetimeMs: 8 * 3_600_000,
      credentials: {
        profile: 'sso-dev',
        region: 'us-west-2',
        roleArn: 'arn:aws:iam::123456789012:role/bedrock',
        externalId: 'x1',
        sessionName: 'ccred-me',
        durationMs: 3_600_000,
        stsEndpoint: 'https://sts.us-west-2.amazonaws.com',
      },
    })
  })

  it('role options without a role, a bad duration and a missing region are each reported', async () => {
    const { error } = await profile(`[profiles.p]
source = "aws"
[profiles.p.aws]
token = "bedrock-api-key"
session_name = "a b"
duration = "10m"
sts_endpoint = "sts.amazonaws.com"
`)
    for (const expected of [
      /profiles\.p\.aws\.region: is required with token = "bedrock-api-key"/,
      /profiles\.p\.aws\.session_name: only applies with role_arn/,
      /profiles\.p\.aws\.session_name: expected 2 to 64 characters/,
      /profiles\.p\.aws\.duration: "10m" is too short/,
      /profiles\.p\.aws\.sts_endpoint: expected an http\(s\) URL/,
    ]) assert.match(error!, expected)
  })
})

describe('aws credential errors', () => {
  const credentialsProviderError = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' })

  it('no credentials: login required, with what to run', () => {
    const error = awsCredentialError(credentialsProviderError, { profile: 'dev' })
    assert.equal(error.code, 'ERR_LOGIN_REQUIRED')
    assert.match(error.hint!, /aws sso login --profile dev/)
  })

  it('AccessDenied from STS: denied, naming the role', () => {
    const denied = Object.assign(new Error('User: arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole'), { name: 'AccessDenied' })
    const error = awsCredentialError(denied, { roleArn: 'arn:aws:iam::123456789012:role/r' })
    assert.equal(error.code, 'ERR_SOURCE_DENIED')
    assert.match(error.message, /AWS refused to assume arn:aws:iam::123456789012:role\/r/)
  })

  it('anything else: unavailable', () => {
    const error = awsCredentialError(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' }), {})
    assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE')
  })
})

describe('env variables of aws profiles', () => {
  it('credentials become the standard AWS variables', () => {
    const credentials = { kind: 'aws', accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 't', expiresAt: '2026-01-01T00:00:00.000Z' } as const
    assert.deepEqual(envVariables(credentials, 'authorization'), {
      AWS_ACCESS_KEY_ID: 'ASIA1', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't', AWS_CREDENTIAL_EXPIRATION: '2026-01-01T00:00:00.000Z',
    })
  })

  it('a Bedrock API key becomes AWS_BEARER_TOKEN_BEDROCK, whatever the header', () => {
    assert.deepEqual(envVariables({ kind: 'token', value: 'bedrock-api-key-abc=', scheme: 'Bearer', envVariable: 'AWS_BEARER_TOKEN_BEDROCK' }, 'proxy-authorization'), { AWS_BEARER_TOKEN_BEDROCK: 'bedrock-api-key-abc=' })
  })

  it('a gcp token is a gateway credential like any other', () => {
    assert.deepEqual(envVariables({ kind: 'token', value: 'ya29.x', scheme: 'Bearer' }, 'proxy-authorization'), { ANTHROPIC_CUSTOM_HEADERS: 'Proxy-Authorization: Bearer ya29.x' })
  })
})
