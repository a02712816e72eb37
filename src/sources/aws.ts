import { userInfo } from 'node:os'
import {
  createAwsCredentialProvider,
  awsCredentialFields,
  type AwsCredentialProvider,
  type AwsCredentials,
} from '../aws/credentials.js'
import { formatDurationMs } from '../config/duration.js'
import { durationMs, nested, oneOf, parseWith, table, type Infer } from '../config/schema.js'
import { CcredError } from '../errors.js'
import type { Credential } from '../credential.js'
import type { SourceDefinition } from './source.js'

/** The Bedrock token generator's ceiling: a short-term key lives at most 12 hours. */
const MAX_BEDROCK_KEY_MS = 12 * 3_600_000

/** `[profiles.x.aws]`. */
const awsTable = table(
  {
    token: oneOf('token', ['credentials', 'bedrock-api-key'] as const, 'credentials'),
    credentials: awsCredentialFields,
    /** Requested lifetime of a Bedrock API key (the credentials' own expiry caps it). */
    bedrockKeyLifetimeMs: durationMs('lifetime', { fallbackMs: MAX_BEDROCK_KEY_MS, minMs: 60_000, maxMs: MAX_BEDROCK_KEY_MS }),
  },
  {
    checks(aws, reader) {
      if (aws.token === 'bedrock-api-key' && !reader.has('region')) {
        reader.problem('region', 'is required with token = "bedrock-api-key" (a Bedrock API key is made for one region, e.g. "us-east-1")')
      }
      if (aws.token !== 'bedrock-api-key' && reader.has('lifetime')) {
        reader.problem('lifetime', 'only applies with token = "bedrock-api-key" (credentials expire when AWS says)')
      }
    },
    closed: true,
  },
)
const awsOptions = nested('aws', awsTable, {})
type AwsSourceOptions = Infer<typeof awsOptions>

/**
 * AWS credentials from the shared AWS credential module, served either as the
 * JSON Claude Code's `awsCredentialExport` reads (`token = "credentials"`) or as
 * a short-term Amazon Bedrock API key made from them (`token = "bedrock-api-key"`).
 * Options live in `[profiles.x.aws]`.
 */
export const awsSource: SourceDefinition<AwsSourceOptions> = {
  kind: 'aws',
  summary: 'AWS credentials (default chain, profile, SSO, assume-role, web identity) as awsCredentialExport JSON or a Bedrock API key',
  parse(reader) {
    return parseWith(awsOptions, reader)
  },
  yieldsAwsCredentials(options) {
    return options.token === 'credentials'
  },
  create(options) {
    let provider: Promise<AwsCredentialProvider> | undefined
    return {
      async fetch(ctx) {
        provider ??= createAwsCredentialProvider(options.credentials, userInfo().username)
        const credentials = await (await provider)()
        const meta: Record<string, string> = { token: options.token, accessKeyId: credentials.accessKeyId }
        if (options.credentials.profile !== undefined) meta.awsProfile = options.credentials.profile
        if (options.credentials.roleArn !== undefined) meta.roleArn = options.credentials.roleArn
        if (options.token === 'credentials') return { ...credentialExport(credentials, ctx.profile), meta }
        return { ...(await bedrockApiKey(credentials, options, ctx.clock.now())), meta }
      },
    }
  },
}

/** Temporary AWS credentials, printed by output as Claude Code's awsCredentialExport reads them. */
function credentialExport(credentials: AwsCredentials, profile: string): Credential {
  if (credentials.sessionToken === undefined) {
    // Claude Code refuses exported credentials without a session token and falls back to its own chain.
    throw new CcredError('ERR_SOURCE_OUTPUT', 'aws: these are long-term access keys (no session token); Claude Code\'s awsCredentialExport accepts only temporary credentials', {
      hint: `set role_arn in [profiles.${profile}.aws] to assume a role, or use an SSO profile; or use token = "bedrock-api-key"`,
    })
  }
  const credential: Credential = { kind: 'aws', accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken }
  if (credentials.expiration !== undefined) credential.expiresAt = credentials.expiration
  return credential
}

/**
 * A short-term Bedrock API key: a SigV4-presigned `CallWithBearerToken` URL made
 * by AWS's own generator. It cannot outlive the credentials that signed it.
 */
async function bedrockApiKey(credentials: AwsCredentials, options: AwsSourceOptions, nowMs: number): Promise<Credential> {
  const { getToken } = await import('@aws/bedrock-token-generator')
  const requestedExpiryMs = nowMs + options.bedrockKeyLifetimeMs
  const credentialExpiryMs = credentials.expiration?.getTime()
  const expiresAtMs = credentialExpiryMs === undefined ? requestedExpiryMs : Math.min(requestedExpiryMs, credentialExpiryMs)
  const expiresInSeconds = Math.floor((expiresAtMs - nowMs) / 1000)
  if (expiresInSeconds <= 0) {
    throw new CcredError('ERR_SOURCE_OUTPUT', 'aws: the AWS credentials have already expired; no Bedrock API key can be made from them', {
      hint: 'check the credential source (aws sso login, the role session duration) and the system clock',
    })
  }
  let value: string
  try {
    value = await getToken({
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
      },
      region: options.credentials.region!,
      expiresInSeconds,
    })
  } catch (error) {
    throw new CcredError('ERR_SOURCE_UNAVAILABLE', `aws: making a Bedrock API key failed: ${(error as Error).message}`, {
      hint: `check region (${options.credentials.region}) and lifetime (${formatDurationMs(options.bedrockKeyLifetimeMs)})`,
      cause: error,
    })
  }
  // Claude Code's Bedrock mode reads the key from AWS_BEARER_TOKEN_BEDROCK.
  return { kind: 'token', value, envVariable: 'AWS_BEARER_TOKEN_BEDROCK', expiresAt: new Date(nowMs + expiresInSeconds * 1000) }
}
