import { CcredError } from '../errors.js'
import type { TokenCredential } from '../credential.js'
import { oidcError, type OidcConfiguration, type TokenResponse } from './client.js'
import { ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, type OidcOptions } from './config.js'

export function loginRequired(profile: string, why: string, cause?: unknown): CcredError {
  return new CcredError('ERR_LOGIN_REQUIRED', `profile ${profile}: ${why}`, { hint: `run: ccred login ${profile}`, ...(cause === undefined ? {} : { cause }) })
}

/**
 * The credential a profile hands out: the access token or the ID token, valid until
 * the earlier of expires_in and the JWT's own exp (an IdP may round one of them).
 */
export async function credentialFromTokens(tokens: TokenResponse, options: OidcOptions, nowMs: number, profile: string): Promise<TokenCredential> {
  const value = options.token === 'id_token' ? tokens.id_token : tokens.access_token
  if (value === undefined || value === '') {
    throw new CcredError('ERR_SOURCE_OUTPUT', `profile ${profile}: the identity provider returned no ${options.token}`, {
      hint: options.token === 'id_token' ? 'include "openid" in scopes' : 'check the client registration at the identity provider',
    })
  }
  const expiresInS = options.token === 'access_token' ? tokens.expires_in : undefined
  const expiresAt = earliest(expiresInS === undefined ? undefined : nowMs + expiresInS * 1000, await jwtExpiryMs(value))
  const meta: Record<string, string> = { issuer: options.issuer, token: options.token }
  const subject = tokens.claims()?.sub
  if (typeof subject === 'string') meta.sub = subject
  return { kind: 'token', value, ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt) }), meta }
}

/** RFC 8693: trades the IdP token for the gateway's credential. */
export async function exchangeToken(config: OidcConfiguration, tokens: TokenResponse, options: OidcOptions, nowMs: number, profile: string): Promise<TokenCredential> {
  const exchange = options.exchange!
  const client = await import('openid-client')
  const subjectToken = exchange.subjectToken === 'id_token' ? tokens.id_token : tokens.access_token
  if (subjectToken === undefined) throw new CcredError('ERR_SOURCE_OUTPUT', `profile ${profile}: no ${exchange.subjectToken} to exchange`, { hint: 'set exchange.subject_token to a token the identity provider returns' })
  let target = config
  if (exchange.endpoint !== undefined) {
    const { supportsPKCE: _unused, ...server } = config.serverMetadata()
    target = new client.Configuration({ ...server, token_endpoint: exchange.endpoint }, config.clientMetadata().client_id, config.clientMetadata())
    if (new URL(exchange.endpoint).protocol === 'http:') client.allowInsecureRequests(target)
  }
  const parameters: Record<string, string> = {
    subject_token: subjectToken,
    subject_token_type: exchange.subjectToken === 'id_token' ? ID_TOKEN_TYPE : ACCESS_TOKEN_TYPE,
    requested_token_type: exchange.requestedTokenType,
  }
  if (exchange.audience !== undefined) parameters.audience = exchange.audience
  if (exchange.resource !== undefined) parameters.resource = exchange.resource
  let exchanged: TokenResponse
  try {
    exchanged = await client.genericGrantRequest(target, 'urn:ietf:params:oauth:grant-type:token-exchange', parameters)
  } catch (error) {
    throw oidcError(error, `profile ${profile}: token exchange failed`, (code) =>
      code === 'ERR_SOURCE_DENIED' ? 'check [exchange] audience/resource and that the gateway trusts this identity provider' : 'check the network and the token exchange endpoint')
  }
  const credential = await credentialFromTokens(exchanged, { ...options, token: 'access_token' }, nowMs, profile)
  return { ...credential, meta: { ...credential.meta, exchanged: exchange.audience ?? exchange.resource ?? 'yes' } }
}

async function jwtExpiryMs(token: string): Promise<number | undefined> {
  if (token.split('.').length !== 3) return undefined
  try {
    const { decodeJwt } = await import('jose')
    const exp = decodeJwt(token).exp
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.min(a, b)
}
