import type * as Oidc from 'openid-client'
import { CcredError, type ErrorCode } from '../errors.js'
import { sanitizeLine } from '../text/sanitize.js'
import { isLoopbackHost, type OidcOptions } from './config.js'

export type OidcModule = typeof Oidc
export type OidcConfiguration = Oidc.Configuration
export type TokenResponse = Oidc.TokenEndpointResponse & Oidc.TokenEndpointResponseHelpers

/** Resolves the profile's secret references (client_secret, private_key). */
export type SecretResolver = (ref: NonNullable<OidcOptions['clientSecret']>, key: string) => Promise<string>

export async function loadOidcModule(): Promise<OidcModule> {
  return import('openid-client')
}

/**
 * Discovers the issuer and builds the client. An issuer URL is tried as the specs say:
 * OpenID Connect discovery first (`<issuer>/.well-known/openid-configuration`), then
 * RFC 8414 authorization-server metadata (`/.well-known/oauth-authorization-server`,
 * inserted before the issuer's path), which is all a plain OAuth server such as the
 * Claude apps gateway publishes. Plain-http requests are allowed only for a loopback
 * issuer (a test IdP on 127.0.0.1); config parsing refuses http anywhere else, and this
 * checks again so no path weakens https for a real IdP.
 */
export async function discoverClient(options: OidcOptions, resolveSecret: SecretResolver, profile: string): Promise<OidcConfiguration> {
  const client = await loadOidcModule()
  const issuerUrl = new URL(options.issuer)
  const insecureLoopback = issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname)
  const auth = await clientAuthentication(client, options, resolveSecret)
  // openid-client reads response bodies whole: every request of this client (discovery, token,
  // exchange, revocation) goes through a fetch that stops at MAX_UPSTREAM_RESPONSE_BYTES.
  const { boundedFetch } = await import('../net/bounded-fetch.js')
  const fetchBounded = boundedFetch()
  const discover = (algorithm: 'oidc' | 'oauth2') => client.discovery(issuerUrl, options.clientId, undefined, auth, {
    algorithm,
    [client.customFetch]: (url, init) => fetchBounded(url, init as RequestInit),
    ...(insecureLoopback ? { execute: [client.allowInsecureRequests] } : {}),
  })
  let config: OidcConfiguration
  try {
    config = await discover('oidc')
  } catch (oidcError) {
    try {
      config = await discover('oauth2')
    } catch (oauthError) {
      // Both failed: report the OpenID Connect failure (the common case) and keep both as the cause.
      const base = options.issuer.replace(/\/$/, '')
      throw new CcredError('ERR_SOURCE_UNAVAILABLE', `oidc: discovery of ${options.issuer} failed: ${describeOidcError(oidcError)}; RFC 8414 metadata: ${describeOidcError(oauthError)}`, {
        hint: `check issuer in [profiles.${profile}.oidc] (ccred reads ${base}/.well-known/openid-configuration, then the RFC 8414 /.well-known/oauth-authorization-server) and the network`,
        cause: new AggregateError([oidcError, oauthError], 'OpenID Connect discovery and RFC 8414 metadata both failed'),
      })
    }
  }
  config[client.customFetch] = (url, init) => fetchBounded(url, init as RequestInit)
  return config
}

async function clientAuthentication(client: OidcModule, options: OidcOptions, resolveSecret: SecretResolver): Promise<Oidc.ClientAuth> {
  if (options.clientSecret !== undefined) return client.ClientSecretBasic(await resolveSecret(options.clientSecret, 'oidc.client_secret'))
  if (options.privateKey !== undefined) return client.PrivateKeyJwt(await importPrivateKey(await resolveSecret(options.privateKey, 'oidc.private_key')))
  return client.None()
}

async function importPrivateKey(pem: string): Promise<Oidc.CryptoKey> {
  const { createPrivateKey } = await import('node:crypto')
  const { importPKCS8 } = await import('jose')
  let keyType: string | undefined
  let pkcs8: string
  try {
    const key = createPrivateKey(pem)
    keyType = key.asymmetricKeyType
    pkcs8 = key.export({ type: 'pkcs8', format: 'pem' }).toString()
  } catch {
    throw new CcredError('ERR_CONFIG', 'oidc.private_key is not a PEM private key', { hint: 'store a PKCS#8 or PKCS#1/SEC1 PEM private key under that reference' })
  }
  const alg = keyType === 'rsa' ? 'RS256' : keyType === 'ec' ? 'ES256' : keyType === 'ed25519' ? 'EdDSA' : undefined
  if (alg === undefined) throw new CcredError('ERR_CONFIG', `oidc.private_key is a ${keyType ?? 'unknown'} key; private_key_jwt here takes RSA, EC P-256 or Ed25519`, { hint: 'make one with: openssl genpkey -algorithm ed25519' })
  return importPKCS8(pkcs8, alg)
}

/** The OAuth error code of a failed token or authorization response, if it has one. */
export function oauthErrorCode(error: unknown): string | undefined {
  return oauthError(error)?.code
}

/**
 * The OAuth error in a response body (`error`, `error_description`), or in a 401's
 * WWW-Authenticate challenge (openid-client then reports the parsed challenges as the cause).
 */
function oauthError(error: unknown): { code: string; description?: string } | undefined {
  const body = error as { error?: unknown; error_description?: unknown } | undefined
  if (typeof body?.error === 'string') return { code: body.error, ...(typeof body.error_description === 'string' && body.error_description !== '' ? { description: body.error_description } : {}) }
  // openid-client's own code (not a ccred one): a 401 whose WWW-Authenticate challenges are the cause.
  const challenges = (error as { code?: unknown; cause?: unknown } | undefined)
  if (challenges?.code !== 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' || !Array.isArray(challenges.cause)) return undefined
  for (const challenge of challenges.cause as { parameters?: Record<string, string> }[]) {
    const code = challenge.parameters?.error
    if (code !== undefined) return { code, ...(challenge.parameters?.error_description === undefined ? {} : { description: challenge.parameters.error_description }) }
  }
  return undefined
}

/**
 * One line for messages: the OAuth error and its description, or the failure's message.
 * Never a token. The IdP writes error_description, so it passes the terminal sanitizer.
 */
export function describeOidcError(error: unknown): string {
  const oauth = oauthError(error)
  if (oauth !== undefined) return sanitizeLine(oauth.description === undefined ? oauth.code : `${oauth.code} (${oauth.description})`, 300)
  const cause = (error as { cause?: unknown } | undefined)?.cause
  const message = error instanceof Error ? error.message : String(error)
  if (cause instanceof Response) return sanitizeLine(`${message} (HTTP ${cause.status})`, 300)
  return sanitizeLine(cause instanceof Error && cause.message !== message ? `${message}: ${cause.message}` : message, 300)
}

/** The HTTP status of a failed IdP call: openid-client keeps it on the error, or on the Response it gives as cause. */
function upstreamStatus(error: unknown): number | undefined {
  const failure = error as { status?: unknown; cause?: unknown } | undefined
  if (typeof failure?.status === 'number') return failure.status
  return failure?.cause instanceof Response ? failure.cause.status : undefined
}

/**
 * OAuth error codes that say the identity provider is down or overloaded
 * (RFC 6749 sections 4.1.2.1 and 5.2): worth retrying, not a refusal.
 */
const UNAVAILABLE_OAUTH_ERRORS = new Set(['server_error', 'temporarily_unavailable'])

export interface OidcErrorCodes {
  /** The code when the IdP gave no OAuth error (no answer, a bad answer); default ERR_SOURCE_UNAVAILABLE. */
  noOauthError?: ErrorCode
  /** The code for an OAuth refusal other than access_denied; default ERR_SOURCE_DENIED. */
  refused?: ErrorCode
}

/** The ccred code for a failed IdP call, decided here for every flow (see UNAVAILABLE_OAUTH_ERRORS). */
export function oidcErrorCode(error: unknown, codes: OidcErrorCodes = {}): ErrorCode {
  const oauth = oauthErrorCode(error)
  if (oauth === undefined) return codes.noOauthError ?? 'ERR_SOURCE_UNAVAILABLE'
  if (UNAVAILABLE_OAUTH_ERRORS.has(oauth)) return 'ERR_SOURCE_UNAVAILABLE'
  if (oauth === 'access_denied') return 'ERR_SOURCE_DENIED'
  return codes.refused ?? 'ERR_SOURCE_DENIED'
}

/**
 * Maps a failed openid-client call to a CcredError: "<what>: <OAuth error (description)>",
 * the code from oidcErrorCode, the hint for that code, the original as `cause`, and the
 * OAuth error and HTTP status as detail.
 */
export function oidcError(error: unknown, what: string | ((description: string) => string), hint: (code: ErrorCode) => string, codes: OidcErrorCodes = {}): CcredError {
  const code = oidcErrorCode(error, codes)
  const oauth = oauthErrorCode(error)
  const status = upstreamStatus(error)
  const message = typeof what === 'string' ? `${what}: ${describeOidcError(error)}` : what(describeOidcError(error))
  return new CcredError(code, message, {
    hint: hint(code),
    cause: error,
    detail: { ...(oauth === undefined ? {} : { oauthError: oauth }), ...(status === undefined ? {} : { httpStatus: status }) },
  })
}

/** Scope and resource indicator parameters shared by every grant. */
export function grantParameters(options: OidcOptions): Record<string, string> {
  const parameters: Record<string, string> = {}
  if (options.scopes.length > 0) parameters.scope = options.scopes.join(' ')
  if (options.audience !== undefined) parameters.audience = options.audience
  if (options.resource !== undefined) parameters.resource = options.resource
  return parameters
}
