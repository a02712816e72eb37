// A real OpenID Provider (the `oidc-provider` package, a certified implementation) run
// in-process on 127.0.0.1: authorization code + PKCE for a native public client with
// loopback redirects on any port (RFC 8252 §7.3), device authorization (RFC 8628),
// refresh-token rotation, revocation (RFC 7009), client_credentials with
// client_secret_basic and private_key_jwt, and resource indicators (RFC 8707) minting
// JWT access tokens for the gateway. Its built-in dev interactions serve the login and
// consent pages a test browser fills in.
import { generateKeyPairSync } from 'node:crypto'
import http from 'node:http'
import { createRemoteJWKSet, exportJWK, jwtVerify, type JWTPayload } from 'jose'
import { listenOnLoopback } from './listen.js'

export const GATEWAY_AUDIENCE = 'https://gateway.ccred.test'
export const PUBLIC_CLIENT_ID = 'ccred'
export const SECRET_CLIENT_ID = 'ci-bot'
export const KEY_CLIENT_ID = 'ci-key'

export interface TestProvider {
  issuer: string
  jwksUrl: string
  /** The client_secret of SECRET_CLIENT_ID. */
  clientSecret: string
  /** PKCS#8 PEM of KEY_CLIENT_ID's private key (private_key_jwt). */
  clientPrivateKeyPem: string
  /** Token endpoint requests, by grant_type, so a test can count refreshes. */
  grants: string[]
  close(): Promise<void>
}

interface ProviderClass {
  new (issuer: string, configuration: Record<string, unknown>): { callback(): http.RequestListener }
  errors: { InvalidTarget: new () => Error }
}

export interface TestProviderOptions {
  accessTokenTtlS?: number
}

export async function startTestProvider(options: TestProviderOptions = {}): Promise<TestProvider> {
  // oidc-provider ships no type declarations; a computed specifier keeps tsc from looking for them.
  const specifier = 'oidc-provider'
  const { default: Provider } = (await import(specifier)) as { default: ProviderClass }
  const signing = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const signingJwk = { ...(await exportJWK(signing.privateKey)), kid: 'op-signing', alg: 'ES256', use: 'sig' }
  const clientKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const clientPublicJwk = { ...(await exportJWK(clientKey.publicKey)), kid: 'ci-key-1', alg: 'ES256', use: 'sig' }
  const clientSecret = `cs-${generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64url')}`
  const accessTokenTtlS = options.accessTokenTtlS ?? 600
  const grants: string[] = []

  // Listen first so the issuer carries the real port.
  let handler: http.RequestListener = (_req, res) => { res.statusCode = 503; res.end() }
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/token')) {
      let body = ''
      req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8') })
      req.on('end', () => { grants.push(new URLSearchParams(body).get('grant_type') ?? '?') })
    }
    handler(req, res)
  })
  const port = await listenOnLoopback(server)
  const issuer = `http://127.0.0.1:${port}`

  const resourceServer = {
    scope: 'gateway',
    audience: GATEWAY_AUDIENCE,
    accessTokenTTL: accessTokenTtlS,
    accessTokenFormat: 'jwt' as const,
    jwt: { sign: { alg: 'ES256' } },
  }
  const provider = new Provider(issuer, {
    clients: [
      {
        // https://github.com/panva/node-oidc-provider/blob/main/docs/README.md#clients
        client_id: PUBLIC_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        scope: 'openid offline_access gateway',
        id_token_signed_response_alg: 'ES256',
      },
      {
        client_id: SECRET_CLIENT_ID,
        client_secret: clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'gateway',
        id_token_signed_response_alg: 'ES256',
      },
      {
        client_id: KEY_CLIENT_ID,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [clientPublicJwk] },
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'gateway',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingJwk] },
    scopes: ['openid', 'offline_access', 'gateway'],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    ttl: { AccessToken: accessTokenTtlS, ClientCredentials: accessTokenTtlS, IdToken: accessTokenTtlS, RefreshToken: 86_400, DeviceCode: 600, Grant: 86_400, Session: 86_400, Interaction: 600 },
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id }) }),
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => GATEWAY_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== GATEWAY_AUDIENCE) throw new Provider.errors.InvalidTarget()
          return resourceServer
        },
      },
    },
  })
  handler = provider.callback()

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    clientSecret,
    clientPrivateKeyPem: clientKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    grants,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

/** A `source = "oidc"` profile for this provider, asking for tokens for the gateway; `client` names the client and how it authenticates. */
export function oidcProfileToml(issuer: string, name: string, client: string, extra = ''): string {
  return `
[profiles.${name}]
source = "oidc"
[profiles.${name}.oidc]
issuer = "${issuer}"
${client}
resource = "${GATEWAY_AUDIENCE}"
${extra}
`
}

/** The public client a person logs in with. */
export const LOGIN_CLIENT = `client_id = "${PUBLIC_CLIENT_ID}"\nscopes = ["openid", "offline_access", "gateway"]`
/** The service account with client_secret_basic; the secret comes from CI_OIDC_SECRET. */
export const SECRET_CLIENT = `client_id = "${SECRET_CLIENT_ID}"\ngrant = "client_credentials"\nclient_secret = "env:CI_OIDC_SECRET"\nscopes = ["gateway"]`
/** The service account with private_key_jwt, its key in a PEM file. */
export function keyClient(pemPath: string): string {
  return `client_id = "${KEY_CLIENT_ID}"\ngrant = "client_credentials"\nprivate_key = "file:${pemPath}"\nscopes = ["gateway"]`
}

/**
 * A gateway's check of an IdP access token (a `verify` for startGateway): signature
 * against the provider's JWKS, issuer, audience, expiry. Every payload that verified
 * is pushed to `accepted`.
 */
export function idpTokenVerifier(provider: Pick<TestProvider, 'issuer' | 'jwksUrl'>, accepted: JWTPayload[]): (token: string) => Promise<string | undefined> {
  const keys = createRemoteJWKSet(new URL(provider.jwksUrl), { cooldownDuration: 0 })
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keys, { issuer: provider.issuer, audience: GATEWAY_AUDIENCE, requiredClaims: ['exp', 'iat', 'jti'] })
      accepted.push(payload)
      return undefined
    } catch (error) {
      return `${(error as { code?: string }).code ?? 'ERR'}: ${(error as Error).message}`
    }
  }
}
