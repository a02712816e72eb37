import { formatDurationMs } from '../config/duration.js'
import { compact, durationMs, map, string, table, whenSet, type Infer } from '../config/schema.js'
import { CcredError } from '../errors.js'
import { withDeadline } from '../net/deadline.js'

/**
 * Where AWS credentials come from: the one module every AWS consumer shares (the
 * `aws` source, Vault's aws auth method). Config keys, all optional:
 *   profile        a named profile in ~/.aws/config and ~/.aws/credentials (ini, SSO, process)
 *   region         the region for STS calls (default: AWS_REGION / the profile's region)
 *   role_arn       assume this role on top of the base credentials
 *   external_id    sts:ExternalId for that role
 *   session_name   the role session name (default "ccred-<user>")
 *   duration       the role session length ("15m" to "12h", default "1h")
 *   sts_endpoint   a private or test STS endpoint
 *   timeout        the longest one fetch may take, every request of the chain included (default "30s")
 * Without `profile`, the base credentials come from the SDK's default Node chain:
 * environment, web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), ini/SSO,
 * container (ECS/EKS) and instance metadata.
 */
export interface AwsCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  expiration?: Date
}

export type AwsCredentialProvider = () => Promise<AwsCredentials>

/**
 * The SDK's own request timeout only logs a warning (smithy's node-http-handler
 * throws on it only when told to, which its credential providers do not): a
 * credentials endpoint that accepts the connection and never answers would hold
 * a fetch open forever. ccred gives up after this.
 */
const DEFAULT_AWS_TIMEOUT_MS = 30_000

const MIN_ROLE_SESSION_MS = 15 * 60_000
const MAX_ROLE_SESSION_MS = 12 * 3_600_000

/** The keys above, read from a config table that may hold others (the caller closes it). */
export const awsCredentialFields = map(
  table(
    {
      profile: string('profile'),
      region: string('region'),
      roleArn: whenSet(string('role_arn'), 'role_arn', (arn) =>
        /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(arn) ? undefined : 'expected a role ARN like "arn:aws:iam::123456789012:role/name"'),
      externalId: string('external_id'),
      sessionName: whenSet(string('session_name'), 'session_name', (name) =>
        /^[\w+=,.@-]{2,64}$/.test(name) ? undefined : 'expected 2 to 64 characters from letters, digits and +=,.@_-'),
      durationMs: durationMs('duration', { minMs: MIN_ROLE_SESSION_MS, maxMs: MAX_ROLE_SESSION_MS }),
      stsEndpoint: whenSet(string('sts_endpoint'), 'sts_endpoint', (url) => (/^https?:\/\//.test(url) ? undefined : 'expected an http(s) URL')),
      timeoutMs: durationMs('timeout', { minMs: 100, maxMs: 5 * 60_000 }),
    },
    {
      checks(aws, reader) {
        if (aws.roleArn !== undefined) return
        for (const key of ['external_id', 'session_name', 'duration'] as const) {
          if (reader.has(key)) reader.problem(key, 'only applies with role_arn')
        }
      },
    },
  ),
  compact,
)
export type AwsCredentialOptions = Infer<typeof awsCredentialFields>

/**
 * Builds a provider for those credentials. The SDK is imported here, on first
 * use, never on the `get` client path. Every call of the returned function asks
 * the SDK afresh (a new chain, a new AssumeRole): the SDK's own providers memoize
 * until 5 minutes before expiry, and a broker refreshing ahead of that, or
 * re-issuing after a rejection, must get new credentials, not the memoized ones.
 * The broker caches what is returned.
 */
export async function createAwsCredentialProvider(options: AwsCredentialOptions, username: string): Promise<AwsCredentialProvider> {
  const sdk = await import('@aws-sdk/credential-providers')
  // STS calls made inside the chain (web identity, role_arn in a profile) and our own AssumeRole.
  const clientConfig = {
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.stsEndpoint === undefined ? {} : { endpoint: options.stsEndpoint }),
  }
  const build = () => {
    const base = options.profile === undefined
      ? sdk.fromNodeProviderChain({ clientConfig })
      : sdk.fromIni({ profile: options.profile, clientConfig })
    if (options.roleArn === undefined) return base
    return sdk.fromTemporaryCredentials({
      masterCredentials: base,
      params: {
        RoleArn: options.roleArn,
        RoleSessionName: options.sessionName ?? defaultSessionName(username),
        DurationSeconds: Math.round((options.durationMs ?? 3_600_000) / 1000),
        ...(options.externalId === undefined ? {} : { ExternalId: options.externalId }),
      },
      clientConfig,
    })
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_AWS_TIMEOUT_MS
  const where = options.profile === undefined ? 'the default AWS credential chain' : `AWS profile "${options.profile}"`
  return async () => {
    try {
      const identity = await withDeadline(build()(), timeoutMs, () => new CcredError('ERR_SOURCE_UNAVAILABLE', `AWS credentials from ${where}: no answer within ${formatDurationMs(timeoutMs)}`, {
        hint: 'check network access to the credentials endpoint (container, instance metadata, SSO, STS), or raise `timeout`',
      }))
      const credentials: AwsCredentials = { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey }
      if (identity.sessionToken !== undefined && identity.sessionToken !== '') credentials.sessionToken = identity.sessionToken
      if (identity.expiration !== undefined) credentials.expiration = identity.expiration
      return credentials
    } catch (error) {
      throw awsCredentialError(error, options)
    }
  }
}

/** "ccred-<user>", reduced to what sts:AssumeRole accepts as a RoleSessionName. */
function defaultSessionName(username: string): string {
  return `ccred-${username}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64)
}

/** Says where ccred looked and what to do, in the SDK's words where they help; never a key. */
export function awsCredentialError(error: unknown, options: AwsCredentialOptions): CcredError {
  if (error instanceof CcredError) return error
  const name = (error as { name?: string }).name ?? 'Error'
  const message = (error as Error).message ?? String(error)
  const where = options.profile === undefined ? 'the default AWS credential chain' : `AWS profile "${options.profile}"`
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    const looked = options.profile === undefined && /from any providers/i.test(message) ? `; looked at: ${defaultChainPlaces(process.env).join('; ')}` : ''
    return new CcredError('ERR_LOGIN_REQUIRED', `no AWS credentials from ${where}: ${message}${looked}`, {
      hint: options.profile === undefined
        ? 'set AWS_PROFILE, run: aws sso login, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (then: ccred daemon stop, so the daemon sees them)'
        : `run: aws sso login --profile ${options.profile}   (or check ~/.aws/config)`,
      cause: error,
    })
  }
  // AssumeRole's DurationSeconds must lie between 900 s and the role's MaxSessionDuration (1h unless
  // its administrator raised it, at most 12h; 1h when chaining roles); STS answers ValidationError.
  if (options.roleArn !== undefined && name === 'ValidationError' && /DurationSeconds|durationSeconds/.test(message)) {
    const askedS = Math.round((options.durationMs ?? 3_600_000) / 1000)
    return new CcredError('ERR_CONFIG', `AWS refused a ${formatDurationMs(askedS * 1000)} session for ${options.roleArn}: ${message}`, {
      hint: `duration must be from 15m up to the role's maximum session duration (1h unless an administrator raised it, 12h at most; 1h when the caller is itself an assumed role): lower duration, or raise the role's MaxSessionDuration (aws iam update-role --max-session-duration)`,
      cause: error,
    })
  }
  if (/AccessDenied|not authorized/i.test(`${name} ${message}`)) {
    return new CcredError('ERR_SOURCE_DENIED', `AWS refused ${options.roleArn === undefined ? 'the credentials' : `to assume ${options.roleArn}`}: ${message}`, {
      hint: 'check the role trust policy and the caller\'s sts:AssumeRole permission',
      cause: error,
    })
  }
  return new CcredError('ERR_SOURCE_UNAVAILABLE', `AWS credentials from ${where}: ${name}: ${message}`, {
    hint: 'check network access to AWS STS and the region, then retry',
    cause: error,
  })
}

/** The places the SDK's default chain looks, in its order, as this process's environment sets them up. */
function defaultChainPlaces(env: Record<string, string | undefined>): string[] {
  const home = env.HOME ?? env.USERPROFILE ?? '~'
  const container = env.AWS_CONTAINER_CREDENTIALS_FULL_URI ?? (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI === undefined ? undefined : `http://169.254.170.2${env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI}`)
  const imdsDisabled = env.AWS_EC2_METADATA_DISABLED !== undefined && env.AWS_EC2_METADATA_DISABLED !== 'false'
  return [
    `AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (${env.AWS_ACCESS_KEY_ID === undefined ? 'not set' : 'incomplete'})`,
    `profile "${env.AWS_PROFILE ?? 'default'}" in ${env.AWS_CONFIG_FILE ?? `${home}/.aws/config`} and ${env.AWS_SHARED_CREDENTIALS_FILE ?? `${home}/.aws/credentials`}`,
    `web identity (${env.AWS_WEB_IDENTITY_TOKEN_FILE === undefined ? 'AWS_WEB_IDENTITY_TOKEN_FILE not set' : `${env.AWS_WEB_IDENTITY_TOKEN_FILE} with role ${env.AWS_ROLE_ARN ?? '(AWS_ROLE_ARN not set)'}`})`,
    container === undefined
      ? `instance metadata (${imdsDisabled ? 'disabled by AWS_EC2_METADATA_DISABLED' : 'not reachable'})`
      : `the container credentials endpoint ${container} (no usable answer)`,
  ]
}
