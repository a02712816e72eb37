import { homedir } from 'node:os'
import { join } from 'node:path'
import type { AuthClient, IdTokenProvider } from 'google-auth-library'
import { formatDurationMs } from '../config/duration.js'
import { quoteShort } from '../config/fields.js'
import { formatReference, type Reference } from '../config/references.js'
import { durationMs, INVALID, map, nested, oneOf, parseWith, reference, string, stringArray, table, whenSet, type Infer } from '../config/schema.js'
import { CcredError } from '../errors.js'
import { MAX_UPSTREAM_RESPONSE_BYTES } from '../net/bounded-fetch.js'
import { withDeadline } from '../net/deadline.js'
import type { Credential } from '../credential.js'
import type { FetchContext, SourceDefinition } from './source.js'
import { HOST_OS } from '../platform.js'

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform'
const MAX_IMPERSONATION_LIFETIME_MS = 12 * 3_600_000
const DEFAULT_IMPERSONATION_LIFETIME_MS = 3_600_000
const TOKEN_CREATOR_ROLE = 'roles/iam.serviceAccountTokenCreator'
const SERVICE_ACCOUNT = /^[^@\s]+@[^@\s]+\.[^@\s]+$/
/**
 * ccred never uses a project id. Giving GoogleAuth one skips its project
 * discovery, which otherwise runs `gcloud config config-helper` and asks the
 * metadata server (3 s timeouts off Google Cloud) on every fetch.
 */
const UNUSED_PROJECT_ID = 'ccred-project-id-unused'

/** The default `timeout`: the library itself has no overall one (gcp-metadata sets none on Google Cloud). */
const DEFAULT_GCP_TIMEOUT_MS = 30_000

/** `[profiles.x.gcp]`. */
const gcpTable = table(
  {
    token: oneOf('token', ['access_token', 'id_token'] as const, 'access_token'),
    /** OAuth scopes of an access token. */
    scopes: stringArray('scopes', { nonEmpty: true }),
    /** Audience of an ID token (the gateway URL, or IAP's OAuth client id). */
    audience: string('audience'),
    /** A service-account key or an external_account (workload identity federation) config; absent: ADC. */
    credentials: reference('credentials'),
    impersonate: whenSet(string('impersonate'), 'impersonate', (email) =>
      SERVICE_ACCOUNT.test(email) ? undefined : 'expected a service account email like "gateway@my-project.iam.gserviceaccount.com"'),
    delegates: (gcp) => {
      const delegates = stringArray('delegates')(gcp)
      if (delegates === INVALID) return INVALID
      const bad = (delegates ?? []).filter((delegate) => !SERVICE_ACCOUNT.test(delegate))
      for (const delegate of bad) gcp.problem('delegates', `expected service account emails, got ${quoteShort(delegate)}`) // a long value may be a pasted secret
      return bad.length > 0 ? INVALID : delegates ?? []
    },
    /** Lifetime of an impersonated access token. */
    lifetimeMs: durationMs('lifetime', { fallbackMs: DEFAULT_IMPERSONATION_LIFETIME_MS, minMs: 1000, maxMs: MAX_IMPERSONATION_LIFETIME_MS }),
    /** IAM Credentials API base URL (a Private Service Connect endpoint, say). */
    iamEndpoint: whenSet(string('iam_endpoint'), 'iam_endpoint', (url) =>
      /^https?:\/\/[^/]+\/?$/.test(url) ? undefined : 'expected a base URL like "https://iamcredentials.googleapis.com"'),
    /** The longest one fetch may take, all of the library's requests and retries included. */
    timeoutMs: durationMs('timeout', { fallbackMs: DEFAULT_GCP_TIMEOUT_MS, minMs: 100, maxMs: 5 * 60_000 }),
  },
  {
    checks(gcp, reader) {
      if (gcp.token === 'id_token') {
        if (!reader.has('audience')) reader.problem('audience', 'is required with token = "id_token" (the gateway URL, or the OAuth client id of IAP)')
        if (gcp.scopes !== undefined) reader.problem('scopes', 'only applies with token = "access_token" (an ID token has an audience instead)')
        if (reader.has('lifetime')) reader.problem('lifetime', 'only applies to impersonated access tokens (an ID token lives 1 hour)')
      } else if (reader.has('audience')) {
        reader.problem('audience', 'only applies with token = "id_token"')
      }
      if (gcp.impersonate === undefined) {
        // (lifetime with an ID token is already reported above)
        const impersonationKeys = gcp.token === 'id_token' ? ['delegates', 'iam_endpoint'] : ['delegates', 'lifetime', 'iam_endpoint']
        for (const key of impersonationKeys) if (reader.has(key)) reader.problem(key, 'only applies with impersonate')
      }
    },
    closed: true,
  },
)
const gcpOptions = map(nested('gcp', gcpTable, {}), (gcp) => ({
  ...gcp,
  scopes: gcp.scopes ?? [CLOUD_PLATFORM],
  iamEndpoint: gcp.iamEndpoint?.replace(/\/$/, ''),
}))
type GcpOptions = Infer<typeof gcpOptions>

/**
 * Google Cloud OAuth access tokens and ID tokens through google-auth-library:
 * Application Default Credentials, a service-account key or workload identity
 * federation config by reference, optionally impersonating a service account.
 * Options live in `[profiles.x.gcp]`.
 */
export const gcpSource: SourceDefinition<GcpOptions> = {
  kind: 'gcp',
  summary: 'Google Cloud access or ID tokens (ADC, service-account key, impersonation, workload identity federation)',
  parse(reader) {
    return parseWith(gcpOptions, reader)
  },
  storedSecretName(options) {
    return options.credentials?.kind === 'keychain' ? options.credentials.target : undefined
  },
  references(options) {
    return options.credentials === undefined ? [] : [options.credentials]
  },
  create(options) {
    return {
      // google-auth-library has no overall deadline (gcp-metadata sets no timeout on Google Cloud).
      fetch: (ctx) => withDeadline(fetchGoogleToken(options, ctx), options.timeoutMs, () => new CcredError('ERR_SOURCE_UNAVAILABLE', `gcp: Google did not answer within ${formatDurationMs(options.timeoutMs)}`, {
        hint: 'check the network path to Google (or the metadata server), or raise `timeout`; ccred keeps serving a value that is still valid and retries with backoff',
      })),
    }
  },
}

type GoogleAuthLibrary = typeof import('google-auth-library')

/**
 * Every client's HTTP layer (gaxios) reads a response body whole, whatever its
 * size, unless told a limit: `maxContentLength` refuses a larger Content-Length,
 * and `size` (handed to node-fetch, which gaxios uses on Node, proxy support
 * included) stops reading a streamed body past it.
 */
const transporterOptions = { maxContentLength: MAX_UPSTREAM_RESPONSE_BYTES, size: MAX_UPSTREAM_RESPONSE_BYTES } as { maxContentLength: number }

/**
 * gcp-metadata (the metadata server, through GoogleAuth) uses gaxios's shared
 * instance, which takes no per-client options: its defaults get the same limits,
 * on the gaxios that gcp-metadata itself loads.
 */
let metadataBounded = false
async function boundMetadataReads(): Promise<void> {
  if (metadataBounded) return
  const { createRequire } = await import('node:module')
  const auth = createRequire(createRequire(import.meta.url).resolve('google-auth-library'))
  const gaxios = createRequire(auth.resolve('gcp-metadata'))('gaxios') as { instance: { defaults: Record<string, unknown> } }
  Object.assign(gaxios.instance.defaults, transporterOptions)
  metadataBounded = true
}

/**
 * Builds the clients afresh on every fetch: the library caches tokens until 5
 * minutes before expiry, and a refresh-ahead or a re-issue must get a new one.
 */
async function fetchGoogleToken(options: GcpOptions, ctx: FetchContext): Promise<Credential> {
  const lib = await import('google-auth-library')
  await boundMetadataReads()
  // The source identity needs cloud-platform to call the IAM Credentials API.
  const sourceScopes = options.impersonate === undefined ? options.scopes : [CLOUD_PLATFORM]
  const base = options.credentials === undefined
    ? await applicationDefaultClient(lib, sourceScopes)
    : await referencedClient(lib, await ctx.resolve(options.credentials, 'gcp.credentials'), options.credentials, sourceScopes, ctx.profile)
  const client = options.impersonate === undefined
    ? base
    : new lib.Impersonated({
        transporterOptions,
        sourceClient: base,
        targetPrincipal: options.impersonate,
        delegates: options.delegates,
        targetScopes: options.scopes,
        lifetime: Math.round(options.lifetimeMs / 1000),
        ...(options.iamEndpoint === undefined ? {} : { endpoint: options.iamEndpoint }),
      })
  const meta: Record<string, string> = {
    token: options.token,
    identity: options.impersonate ?? clientIdentity(base, options.credentials),
  }
  const userCredentials = base instanceof lib.UserRefreshClient
  let value: string | undefined | null
  let expiryMs: number | undefined | null
  if (options.impersonate !== undefined) {
    // The source token first, on its own: a failure here is about the source
    // credentials, not the impersonation. The Impersonated client reuses it.
    try {
      await base.getAccessToken()
    } catch (error) {
      throw googleError(error, { ...options, impersonate: undefined }, ctx.profile, userCredentials)
    }
  }
  try {
    if (options.token === 'access_token') {
      value = (await client.getAccessToken()).token
      expiryMs = client.credentials.expiry_date
    } else {
      if (!('fetchIdToken' in client)) {
        throw new CcredError('ERR_CONFIG', 'gcp: these credentials (workload identity federation) cannot mint ID tokens by themselves', {
          hint: `set impersonate = "<service account>" in [profiles.${ctx.profile}.gcp]: the ID token is then minted for that service account`,
        })
      }
      const idTokens = new lib.IdTokenClient({ transporterOptions, targetAudience: options.audience!, idTokenProvider: client as unknown as IdTokenProvider })
      await idTokens.getRequestHeaders()
      value = idTokens.credentials.id_token
      expiryMs = idTokens.credentials.expiry_date
      meta.audience = options.audience!
    }
  } catch (error) {
    throw googleError(error, options, ctx.profile, userCredentials)
  }
  if (typeof value !== 'string' || value === '') {
    throw new CcredError('ERR_SOURCE_OUTPUT', `gcp: Google returned no ${options.token}`, { hint: 'retry; if it persists, check the credentials with: gcloud auth application-default print-access-token' })
  }
  if (typeof expiryMs !== 'number' || !Number.isFinite(expiryMs)) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `gcp: Google returned an ${options.token} without an expiry`, { hint: 'this is unexpected from Google; please report it with the output of: ccred status' })
  }
  return { kind: 'token', value, expiresAt: new Date(expiryMs), meta }
}

/** ADC: GOOGLE_APPLICATION_CREDENTIALS, gcloud's well-known file, then the metadata server. */
async function applicationDefaultClient(lib: GoogleAuthLibrary, scopes: string[]): Promise<AuthClient> {
  const auth = new lib.GoogleAuth({ scopes, projectId: UNUSED_PROJECT_ID, clientOptions: { transporterOptions } })
  try {
    return await auth.getClient()
  } catch (error) {
    const message = (error as Error).message ?? String(error)
    // The library's NO_ADC_FOUND message (not exported).
    if (message.startsWith('Could not load the default credentials')) throw noApplicationDefaultCredentials()
    if (/GOOGLE_APPLICATION_CREDENTIALS/.test(message)) {
      throw new CcredError('ERR_CONFIG', `gcp: ${firstLine(message)}`, {
        cause: error,
        hint: 'point GOOGLE_APPLICATION_CREDENTIALS at a service-account key or workload identity federation config, or unset it; then run: ccred daemon stop',
      })
    }
    throw new CcredError('ERR_CONFIG', `gcp: the Application Default Credentials file is not usable: ${firstLine(message)}`, {
      hint: 'recreate it with: gcloud auth application-default login',
    })
  }
}

/** Which places the library looked at, in its order, so the user sees why none answered. */
function noApplicationDefaultCredentials(): CcredError {
  const env = process.env
  const configDir = env.CLOUDSDK_CONFIG
    ?? (HOST_OS === 'win32' ? (env.APPDATA === undefined ? undefined : join(env.APPDATA, 'gcloud')) : join(env.HOME ?? homedir(), '.config', 'gcloud'))
  const wellKnown = configDir === undefined ? "gcloud's config directory (unknown here)" : join(configDir, 'application_default_credentials.json')
  const metadata = env.GCE_METADATA_HOST ?? env.GCE_METADATA_IP
  const places = [
    'GOOGLE_APPLICATION_CREDENTIALS (not set in the daemon\'s environment)',
    `${wellKnown} (no such file)`,
    metadata === undefined
      ? 'the metadata server at 169.254.169.254 / metadata.google.internal (not reachable: not on Google Cloud)'
      : `the metadata server at ${metadata} (GCE_METADATA_HOST; not reachable)`,
  ]
  return new CcredError('ERR_LOGIN_REQUIRED', `gcp: no Application Default Credentials found; looked at: ${places.join('; ')}`, {
    hint: 'on a laptop run: gcloud auth application-default login; in CI set GOOGLE_APPLICATION_CREDENTIALS (a key or a workload identity federation config) or credentials = "file:..." in the profile; then run: ccred daemon stop',
  })
}

/** A service-account key, a workload identity federation config or gcloud user credentials, given by reference. */
async function referencedClient(lib: GoogleAuthLibrary, text: string, ref: Reference, scopes: string[], profile: string): Promise<AuthClient> {
  const where = `profiles.${profile}.gcp.credentials (${formatReference(ref)})`
  const invalid = (why: string) => new CcredError('ERR_CONFIG', `gcp: ${where} is not a usable credentials file: ${why}`, {
    hint: 'use a service-account key (gcloud iam service-accounts keys create key.json --iam-account=SA) or a workload identity federation config (gcloud iam workload-identity-pools create-cred-config)',
  })
  let json: Record<string, unknown>
  try {
    json = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw invalid('it is not JSON')
  }
  if (typeof json !== 'object' || json === null) throw invalid('it is not a JSON object')
  try {
    switch (json.type) {
      case 'service_account': {
        if (typeof json.client_email !== 'string' || typeof json.private_key !== 'string') throw invalid('a service_account key needs "client_email" and "private_key"')
        if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(json.private_key)) throw invalid('"private_key" is not a PEM private key')
        const client = new lib.JWT({ scopes, transporterOptions })
        client.fromJSON(json)
        return client
      }
      case 'external_account': {
        const client = lib.ExternalAccountClient.fromJSON({ ...(json as object), scopes, transporterOptions } as Parameters<typeof lib.ExternalAccountClient.fromJSON>[0])
        if (client === null) throw invalid('the external_account config names no credential_source ccred can use')
        return client
      }
      case 'authorized_user': {
        const client = new lib.UserRefreshClient({ transporterOptions })
        client.fromJSON(json)
        return client
      }
      default:
        throw invalid(`type ${typeof json.type === 'string' ? `"${json.type.slice(0, 40)}"` : '(missing)'} is not one of "service_account", "external_account", "authorized_user"`)
    }
  } catch (error) {
    if (error instanceof CcredError) throw error
    throw invalid(firstLine((error as Error).message ?? String(error)))
  }
}

function clientIdentity(client: AuthClient, ref: Reference | undefined): string {
  const email = (client as { email?: unknown }).email
  if (typeof email === 'string') return email
  return ref === undefined ? 'application default credentials' : formatReference(ref)
}

interface GoogleFailure {
  status: number | undefined
  /** OAuth "error" or Google API "status" (PERMISSION_DENIED). */
  reason: string | undefined
  detail: string
}

/** What Google said, from the response body: never the request, which carries assertions and tokens. */
function describeFailure(error: unknown): GoogleFailure {
  const response = (error as { response?: { status?: number; data?: unknown } }).response
  const data = response?.data
  let reason: string | undefined
  let detail = firstLine((error as Error).message ?? String(error))
  if (typeof data === 'object' && data !== null) {
    const body = data as { error?: unknown; error_description?: unknown; error_subtype?: unknown }
    if (typeof body.error === 'string') {
      reason = body.error
      detail = [body.error, body.error_description, body.error_subtype].filter((part) => typeof part === 'string').join(': ')
    } else if (typeof body.error === 'object' && body.error !== null) {
      const api = body.error as { status?: unknown; message?: unknown }
      if (typeof api.status === 'string') reason = api.status
      if (typeof api.message === 'string') detail = `${reason ?? 'error'}: ${api.message}`
    }
  }
  return { status: response?.status, reason, detail: detail.slice(0, 400) }
}

/**
 * One CcredError per kind of failure. `options.impersonate` is set only for
 * failures of the impersonation step itself; `userCredentials`: the source is a
 * gcloud user login, which the user renews by logging in again.
 */
/** What generateAccessToken allows without the lifetime-extension organization policy. */
const GOOGLE_DEFAULT_MAX_LIFETIME_MS = 3_600_000

function googleError(error: unknown, options: GcpOptions, profile: string, userCredentials: boolean): CcredError {
  if (error instanceof CcredError) return error
  const failure = describeFailure(error)
  const text = `${failure.reason ?? ''} ${failure.detail}`
  const wrapped = { cause: error, detail: failure.status === undefined ? {} : { httpStatus: failure.status } }
  if (/invalid_rapt|reauth/i.test(text)) {
    return new CcredError('ERR_LOGIN_REQUIRED', `gcp: Google requires you to sign in again (reauthentication): ${failure.detail}`, {
      ...wrapped,
      hint: 'run: gcloud auth application-default login',
    })
  }
  if (options.impersonate !== undefined && (failure.status === 403 || failure.status === 404 || failure.reason === 'PERMISSION_DENIED')) {
    return new CcredError('ERR_SOURCE_DENIED', `gcp: permission denied impersonating ${options.impersonate}: the caller needs ${TOKEN_CREATOR_ROLE} on it (${failure.detail})`, {
      ...wrapped,
      hint: `grant it: gcloud iam service-accounts add-iam-policy-binding ${options.impersonate} --member=<your principal> --role=${TOKEN_CREATOR_ROLE}   (and check the service account exists)`,
    })
  }
  // generateAccessToken refuses a lifetime over 1 h unless an organization policy lists the service
  // account (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken, `lifetime`).
  if (options.impersonate !== undefined && failure.status === 400 && options.token === 'access_token' && options.lifetimeMs > GOOGLE_DEFAULT_MAX_LIFETIME_MS) {
    return new CcredError('ERR_SOURCE_DENIED', `gcp: Google refused a ${formatDurationMs(options.lifetimeMs)} token lifetime for ${options.impersonate} (${failure.detail})`, {
      hint: `the limit is 1h unless an organization policy (constraints/iam.allowServiceAccountCredentialLifetimeExtension) lists ${options.impersonate}, then 12h: set lifetime = "1h" in [profiles.${profile}.gcp], or ask an org admin to add it to that policy`,
    })
  }
  if (failure.reason === 'invalid_grant' && userCredentials) {
    return new CcredError('ERR_LOGIN_REQUIRED', `gcp: Google refused your gcloud login: ${failure.detail}`, {
      ...wrapped,
      hint: 'run: gcloud auth application-default login',
    })
  }
  if (failure.reason === 'invalid_grant') {
    const which = options.credentials === undefined ? 'the Application Default Credentials' : `profiles.${profile}.gcp.credentials`
    return new CcredError('ERR_SOURCE_DENIED', `gcp: Google refused ${which}: ${failure.detail}`, {
      ...wrapped,
      hint: 'a key may have been deleted or disabled (create a new one: gcloud iam service-accounts keys create); for workload identity federation check the provider\'s audience and attribute condition',
    })
  }
  if (failure.status === 401 || failure.status === 403 || failure.reason === 'unauthorized_client' || failure.reason === 'access_denied') {
    return new CcredError('ERR_SOURCE_DENIED', `gcp: Google refused the request: ${failure.detail}`, {
      ...wrapped,
      hint: 'check the identity\'s IAM roles and, for workload identity federation, the pool provider\'s audience and attribute condition',
    })
  }
  if (failure.status === undefined && /DECODER|PEM|asn1|private key|secretOrPrivateKey/i.test(failure.detail)) {
    return new CcredError('ERR_CONFIG', `gcp: the service-account key cannot be used: ${failure.detail}`, {
      ...wrapped,
      hint: 'download a new key: gcloud iam service-accounts keys create key.json --iam-account=SA',
    })
  }
  return new CcredError('ERR_SOURCE_UNAVAILABLE', `gcp: ${failure.status === undefined ? '' : `HTTP ${failure.status}: `}${failure.detail}`, {
    ...wrapped,
    hint: 'check network access to Google (oauth2, sts and iamcredentials.googleapis.com, or the metadata server), then retry',
  })
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim()
}
