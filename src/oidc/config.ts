import { quoteShort, type TableReader } from '../config/fields.js'
import { compact, durationMs, map, nested, oneOf, parseWith, raw, reference, refine, string, stringArray, table, whenSet, type Infer } from '../config/schema.js'

/** The client_id sent when a login profile names none. */
export const DEFAULT_CLIENT_ID = 'ccred'
export const DEFAULT_SCOPES = ['openid', 'offline_access']
export const DEFAULT_LOGIN_TIMEOUT_MS = 300_000
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'

const TOKEN_KINDS = ['access_token', 'id_token'] as const

/** RFC 8693 token exchange: the IdP token is traded for a gateway's own credential. */
const exchangeTable = map(
  table(
    {
      /** Token endpoint that performs the exchange; default: the IdP's own token endpoint. */
      endpoint: whenSet(string('endpoint'), 'endpoint', issuerProblem),
      audience: string('audience'),
      resource: string('resource'),
      /** Which IdP token is the subject_token. */
      subjectToken: oneOf('subject_token', TOKEN_KINDS, 'access_token'),
      requestedTokenType: string('requested_token_type', { fallback: ACCESS_TOKEN_TYPE }),
    },
    {
      checks(exchange, table) {
        if (exchange.audience === undefined && exchange.resource === undefined) table.problem('audience', 'set audience or resource: the gateway the exchanged token is for')
      },
      closed: true,
    },
  ),
  compact,
)
export type TokenExchangeOptions = Infer<typeof exchangeTable>

const oidcTable = map(
  table(
    {
      issuer: refine(string('issuer', { required: true }), 'issuer', issuerProblem),
      /**
       * A public client that signs a person in may leave it out (DEFAULT_CLIENT_ID): some servers
       * (the Claude apps gateway) ignore it. A client that authenticates is always named (see checks).
       */
      clientId: string('client_id'),
      grant: oneOf('grant', ['authorization_code', 'client_credentials'] as const, 'authorization_code'),
      /** client_secret_basic when set. */
      clientSecret: reference('client_secret'),
      /** private_key_jwt when set (a PEM private key). */
      privateKey: reference('private_key'),
      scopes: stringArray('scopes'),
      audience: string('audience'),
      resource: whenSet(string('resource'), 'resource', (resource) =>
        isAbsoluteUrl(resource) ? undefined : 'expected an absolute URI (RFC 8707), e.g. "https://gateway.example.com"'),
      token: oneOf('token', TOKEN_KINDS, 'access_token'),
      login: oneOf('login', ['manual', 'auto'] as const, 'manual'),
      /** 0 = a random free port (RFC 8252 §7.3); a fixed port for IdPs that match redirect URIs exactly. */
      redirectPort: raw('redirect_port', (port, problem) => {
        if (port === undefined) return 0
        if (typeof port !== 'number' || !Number.isInteger(port) || port < 1024 || port > 65535) {
          return problem('expected a port number from 1024 to 65535 (leave it out for a random free port)')
        }
        return port
      }),
      loginTimeoutMs: durationMs('login_timeout', { fallbackMs: DEFAULT_LOGIN_TIMEOUT_MS, minMs: 1_000, maxMs: 3_600_000 }),
      exchange: nested('exchange', exchangeTable, { whenPresent: true }),
    },
    {
      checks(oidc, table) {
        if (oidc.clientId === undefined && (oidc.grant === 'client_credentials' || oidc.clientSecret !== undefined || oidc.privateKey !== undefined)) {
          table.problem('client_id', 'is required (a client that authenticates with a secret, a key or client_credentials is always named)')
        }
        if (oidc.clientSecret !== undefined && oidc.privateKey !== undefined) table.problem('private_key', 'set either client_secret or private_key, not both')
        if (oidc.grant === 'client_credentials' && oidc.clientSecret === undefined && oidc.privateKey === undefined) {
          table.problem('grant', 'client_credentials needs client_secret or private_key (a reference such as "env:OIDC_CLIENT_SECRET")')
        }
        if (oidc.grant === 'client_credentials' && oidc.token === 'id_token') table.problem('token', 'client_credentials returns no ID token; use token = "access_token"')
      },
      closed: true,
    },
  ),
  ({ scopes, clientId, ...oidc }) => compact({ ...oidc, clientId: clientId ?? DEFAULT_CLIENT_ID, scopes: scopes ?? (oidc.grant === 'client_credentials' ? [] : DEFAULT_SCOPES) }),
)
export type OidcOptions = Infer<typeof oidcTable>

/** Reads `[profiles.x.oidc]` (every problem lands in the reader); throws ProblemsRecorded when it is invalid. */
export function parseOidcTable(profile: TableReader): OidcOptions {
  return parseWith(nested('oidc', oidcTable, { required: true }), profile)
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
