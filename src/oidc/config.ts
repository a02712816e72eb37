import { quoteShort, type TableReader } from '../config/fields.js'
import type { Reference } from '../config/references.js'

export type OidcGrant = 'authorization_code' | 'client_credentials'
export type OidcTokenKind = 'access_token' | 'id_token'
export type LoginMode = 'manual' | 'auto'

/** RFC 8693 token exchange: the IdP token is traded for a gateway's own credential. */
export interface TokenExchangeOptions {
  /** Token endpoint that performs the exchange; default: the IdP's own token endpoint. */
  endpoint?: string
  audience?: string
  resource?: string
  /** Which IdP token is the subject_token. */
  subjectToken: OidcTokenKind
  requestedTokenType: string
}

export interface OidcOptions {
  issuer: string
  clientId: string
  grant: OidcGrant
  /** client_secret_basic when set. */
  clientSecret?: Reference
  /** private_key_jwt when set (a PEM private key). */
  privateKey?: Reference
  scopes: string[]
  audience?: string
  resource?: string
  token: OidcTokenKind
  exchange?: TokenExchangeOptions
  login: LoginMode
  /** 0 = a random free port (RFC 8252 §7.3); a fixed port for IdPs that match redirect URIs exactly. */
  redirectPort: number
  loginTimeoutMs: number
}

/** The client_id sent when a login profile names none. */
export const DEFAULT_CLIENT_ID = 'ccred'
export const DEFAULT_SCOPES = ['openid', 'offline_access']
export const DEFAULT_LOGIN_TIMEOUT_MS = 300_000
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'

/** Reads `[profiles.x.oidc]`; every problem lands in the shared list. */
export function parseOidcTable(oidc: TableReader): OidcOptions {
  const issuer = oidc.string('issuer', { required: true })
  if (issuer !== undefined) {
    const problem = issuerProblem(issuer)
    if (problem !== undefined) oidc.problem('issuer', problem)
  }
  const grant = oidc.oneOf('grant', ['authorization_code', 'client_credentials'] as const, 'authorization_code')
  const clientSecret = oidc.reference('client_secret')
  const privateKey = oidc.reference('private_key')
  // A public client that signs a person in may leave client_id out: some servers (the
  // Claude apps gateway) ignore it, and a registered client is named anyway. A client
  // that authenticates (a secret, a key, a service account) is always named.
  const clientAuthenticates = grant === 'client_credentials' || clientSecret !== undefined || privateKey !== undefined
  const clientId = (clientAuthenticates ? oidc.string('client_id', { required: true }) : oidc.string('client_id')) ?? DEFAULT_CLIENT_ID
  if (clientSecret !== undefined && privateKey !== undefined) oidc.problem('private_key', 'set either client_secret or private_key, not both')
  if (grant === 'client_credentials' && clientSecret === undefined && privateKey === undefined) {
    oidc.problem('grant', 'client_credentials needs client_secret or private_key (a reference such as "env:OIDC_CLIENT_SECRET")')
  }
  const scopes = oidc.stringArray('scopes') ?? (grant === 'client_credentials' ? [] : DEFAULT_SCOPES)
  const audience = oidc.string('audience')
  const resource = oidc.string('resource')
  if (resource !== undefined && !isAbsoluteUrl(resource)) oidc.problem('resource', 'expected an absolute URI (RFC 8707), e.g. "https://gateway.example.com"')
  const token = oidc.oneOf('token', ['access_token', 'id_token'] as const, 'access_token')
  if (grant === 'client_credentials' && token === 'id_token') oidc.problem('token', 'client_credentials returns no ID token; use token = "access_token"')
  const login = oidc.oneOf('login', ['manual', 'auto'] as const, 'manual')
  const redirectPort = parsePort(oidc)
  const loginTimeoutMs = oidc.durationMs('login_timeout', { fallbackMs: DEFAULT_LOGIN_TIMEOUT_MS, minMs: 1_000, maxMs: 3_600_000 }) ?? DEFAULT_LOGIN_TIMEOUT_MS
  const exchange = oidc.has('exchange') ? parseExchange(oidc.nested('exchange')) : undefined
  if (exchange === undefined) oidc.allow('exchange')
  oidc.rejectUnknownKeys()
  const options: OidcOptions = {
    issuer: issuer ?? 'https://invalid.example',
    clientId,
    grant,
    scopes,
    token,
    login,
    redirectPort,
    loginTimeoutMs,
  }
  if (clientSecret !== undefined) options.clientSecret = clientSecret
  if (privateKey !== undefined) options.privateKey = privateKey
  if (audience !== undefined) options.audience = audience
  if (resource !== undefined) options.resource = resource
  if (exchange !== undefined) options.exchange = exchange
  return options
}

function parseExchange(table: TableReader): TokenExchangeOptions {
  const endpoint = table.string('endpoint')
  if (endpoint !== undefined) {
    const problem = issuerProblem(endpoint)
    if (problem !== undefined) table.problem('endpoint', problem)
  }
  const audience = table.string('audience')
  const resource = table.string('resource')
  const subjectToken = table.oneOf('subject_token', ['access_token', 'id_token'] as const, 'access_token')
  const requestedTokenType = table.string('requested_token_type') ?? ACCESS_TOKEN_TYPE
  if (audience === undefined && resource === undefined) table.problem('audience', 'set audience or resource: the gateway the exchanged token is for')
  table.rejectUnknownKeys()
  const exchange: TokenExchangeOptions = { subjectToken, requestedTokenType }
  if (endpoint !== undefined) exchange.endpoint = endpoint
  if (audience !== undefined) exchange.audience = audience
  if (resource !== undefined) exchange.resource = resource
  return exchange
}

function parsePort(oidc: TableReader): number {
  const raw = oidc.raw('redirect_port')
  if (raw === undefined) return 0
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1024 || raw > 65535) {
    oidc.problem('redirect_port', 'expected a port number from 1024 to 65535 (leave it out for a random free port)')
    return 0
  }
  return raw
}

/** https everywhere; plain http only on loopback (a local test IdP), never for a real issuer. */
export function issuerProblem(text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // Not a URL: perhaps a secret pasted into the wrong key, so only a short value is quoted.
    return `${quoteShort(text)} is not a URL; expected e.g. "https://login.example.com"`
  }
  if (url.protocol === 'https:') return undefined
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined
  return 'must be an https:// URL (plain http is accepted only for 127.0.0.1, ::1 and localhost)'
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]' || hostname === '::1'
}

function isAbsoluteUrl(text: string): boolean {
  try {
    new URL(text)
    return true
  } catch {
    return false
  }
}

/** The secret-store name a profile's refresh token is filed under. */
export function refreshTokenName(profile: string): string {
  return `oidc:${profile}:refresh_token`
}
