// Loopback stand-ins for the Google endpoints google-auth-library calls, shaped after Google's
// API references so the real library talks to them unchanged: the OAuth 2.0 token endpoint
// (service-account JWT bearer grant, refresh-token grant), the IAM Credentials API
// (generateAccessToken, generateIdToken) and the Security Token Service (token exchange).
//
// google-auth-library 10.x sends service-account and user token requests to the fixed URL
// https://oauth2.googleapis.com/token (it ignores `token_uri` in a key file). Tests reach this
// stub there through the library's documented proxy support: HTTPS_PROXY names a loopback
// CONNECT proxy that tunnels to this server's TLS port, NO_PROXY keeps loopback stubs direct,
// and NODE_EXTRA_CA_CERTS trusts a certificate for oauth2.googleapis.com made at test time.
import { createSign, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listenOnLoopback } from './listen.js'


/** The subject token types Google's STS takes (https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token). */
const STS_SUBJECT_TOKEN_TYPES = new Set([
  'urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token',
  'urn:ietf:params:aws:token-type:aws4_request', 'urn:ietf:params:oauth:token-type:saml2', 'urn:ietf:params:oauth:token-type:access_token',
])
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'
export const GOOGLE_TOKEN_HOST = 'oauth2.googleapis.com'

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

/** Decodes a JWT's payload without checking it (tests look at claims). */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

export interface IssuedToken {
  principal: string
  expiresAtMs: number
  scopes?: string[]
}

/**
 * What every Google stub shares: the access tokens issued so far (so a later call
 * can check its bearer token), and Google's ID-token signing key.
 */
export class GoogleTokens {
  readonly accessTokens = new Map<string, IssuedToken>()
  readonly idTokens: string[] = []
  readonly #signingKey: KeyObject
  readonly publicKey: KeyObject
  /** Seconds an issued token lives; tests shorten it. */
  lifetimeSeconds = 3599

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    this.#signingKey = privateKey
    this.publicKey = publicKey
  }

  accessToken(principal: string, scopes: string[] | undefined, lifetimeSeconds = this.lifetimeSeconds): { token: string; expiresIn: number } {
    // The shape of Google access tokens: "ya29." and opaque characters.
    const token = `ya29.${randomBytes(48).toString('base64url')}`
    const issued: IssuedToken = { principal, expiresAtMs: Date.now() + lifetimeSeconds * 1000 }
    if (scopes !== undefined) issued.scopes = scopes
    this.accessTokens.set(token, issued)
    return { token, expiresIn: lifetimeSeconds }
  }

  /** An RS256 ID token as Google signs them (https://cloud.google.com/docs/authentication/token-types#id). */
  idToken(email: string, audience: string, lifetimeSeconds = this.lifetimeSeconds): string {
    const now = Math.floor(Date.now() / 1000)
    const header = base64url(JSON.stringify({ alg: 'RS256', kid: 'stub-key', typ: 'JWT' }))
    const payload = base64url(JSON.stringify({
      iss: 'https://accounts.google.com', aud: audience, azp: email, email, email_verified: true, sub: `1${now}`, iat: now, exp: now + lifetimeSeconds,
    }))
    const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(this.#signingKey)
    const token = `${header}.${payload}.${base64url(signature)}`
    this.idTokens.push(token)
    return token
  }

  /** The principal of a valid `Authorization: Bearer` token, or undefined. */
  principalOf(authorization: string | undefined): string | undefined {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1]
    const issued = token === undefined ? undefined : this.accessTokens.get(token)
    return issued !== undefined && issued.expiresAtMs > Date.now() ? issued.principal : undefined
  }
}

/** A service-account key JSON as the IAM console downloads it, made now (never committed). */
export function makeServiceAccountKey(email: string, tokenUri = GOOGLE_TOKEN_URL): { json: Record<string, string>; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const project = email.split('@')[1]?.split('.')[0] ?? 'project'
  return {
    json: {
      type: 'service_account',
      project_id: project,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: String(100000000000000000000n + BigInt(randomBytes(4).readUInt32BE(0))),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: tokenUri,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      universe_domain: 'googleapis.com',
    },
    publicKey,
  }
}

export interface GoogleRequest {
  method: string
  path: string
  /** grant_type of a token request, or the IAM/STS method. */
  kind: string
  principal?: string
  status: number
  body?: Record<string, unknown>
}

export interface GoogleOAuthOptions {
  tokens: GoogleTokens
  /** Service accounts whose JWT assertions are accepted, with the public half of their key. */
  serviceAccounts?: Map<string, KeyObject>
  /** gcloud user logins: refresh token -> user email, or "reauth" to demand reauthentication. */
  refreshTokens?: Map<string, string>
  /** Who may mint tokens for whom: target service account -> principals with roles/iam.serviceAccountTokenCreator. */
  tokenCreators?: Map<string, string[]>
  /** Workload identity federation: the subject token (a CI OIDC token) and the provider audience STS accepts. */
  sts?: { subjectToken: string; audience: string; principal: string }
  /**
   * Service accounts an organization policy (constraints/iam.allowServiceAccountCredentialLifetimeExtension)
   * allows tokens of up to 12 h; every other one is limited to 1 h. Mutable: a test may change it.
   */
  lifetimeExtensionAllowed?: Set<string>
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) })
  res.end(text)
}

/** Google API errors (https://cloud.google.com/apis/design/errors#http_mapping). */
function apiError(res: http.ServerResponse, status: number, reason: string, message: string): void {
  sendJson(res, status, { error: { code: status, message, status: reason } })
}

/** Checks an RS256 JWT assertion with the service account's public key (RFC 7523, Google's variant). */
function checkAssertion(assertion: string, keys: Map<string, KeyObject>): { email: string; claims: Record<string, unknown> } | { error: string } {
  const [header, payload, signature] = assertion.split('.')
  if (header === undefined || payload === undefined || signature === undefined) return { error: 'Invalid JWT: not three parts' }
  const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string }
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
  if (head.alg !== 'RS256') return { error: 'Invalid JWT: alg must be RS256' }
  const email = String(claims.iss ?? '')
  const key = keys.get(email)
  if (key === undefined) return { error: 'Invalid JWT Signature.' }
  if (!verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))) return { error: 'Invalid JWT Signature.' }
  const now = Math.floor(Date.now() / 1000)
  if (claims.aud !== GOOGLE_TOKEN_URL) return { error: `Invalid JWT: aud must be ${GOOGLE_TOKEN_URL}` }
  if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || claims.exp < now || claims.iat > now + 300 || claims.exp - claims.iat > 3600) {
    return { error: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.' }
  }
  return { email, claims }
}

export interface GoogleOAuthServer {
  /** Plain HTTP on loopback: the IAM Credentials and STS endpoints (given to the library by URL). */
  url: string
  /** The TLS port serving oauth2.googleapis.com (reached through the CONNECT proxy). */
  tlsPort: number | undefined
  requests: GoogleRequest[]
  close(): Promise<void>
}

/**
 * Starts the stub. With `tls` (a certificate for oauth2.googleapis.com), it also
 * listens with TLS for the token endpoint.
 */
export async function startGoogleOAuth(options: GoogleOAuthOptions, tls?: TestCertificate): Promise<GoogleOAuthServer> {
  const requests: GoogleRequest[] = []
  const { tokens } = options

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const url = new URL(req.url ?? '/', 'http://stub')
      const record: GoogleRequest = { method: req.method ?? '', path: url.pathname, kind: '', status: 200 }
      requests.push(record)
      const fail = (status: number, body: unknown) => {
        record.status = status
        sendJson(res, status, body)
      }

      // OAuth 2.0 token endpoint.
      // JWT bearer grant: https://developers.google.com/identity/protocols/oauth2/service-account#httprest
      // Refresh grant: https://developers.google.com/identity/protocols/oauth2/web-server#offline
      if (req.method === 'POST' && url.pathname === '/token') {
        const form = new URLSearchParams(text)
        record.kind = form.get('grant_type') ?? ''
        if (record.kind === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
          const checked = checkAssertion(form.get('assertion') ?? '', options.serviceAccounts ?? new Map())
          if ('error' in checked) return fail(400, { error: 'invalid_grant', error_description: checked.error })
          record.principal = checked.email
          const audience = checked.claims.target_audience
          if (typeof audience === 'string') return sendJson(res, 200, { id_token: tokens.idToken(checked.email, audience) })
          const scope = typeof checked.claims.scope === 'string' ? checked.claims.scope : ''
          if (scope === '') return fail(400, { error: 'invalid_scope', error_description: 'Invalid OAuth scope or ID token audience provided.' })
          const issued = tokens.accessToken(checked.email, scope.split(' '))
          return sendJson(res, 200, { access_token: issued.token, expires_in: issued.expiresIn, token_type: 'Bearer' })
        }
        if (record.kind === 'refresh_token') {
          const user = options.refreshTokens?.get(form.get('refresh_token') ?? '')
          if (user === undefined) return fail(400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' })
          if (user === 'reauth') {
            // What Google answers when the Workspace session policy demands a fresh sign-in.
            return fail(400, { error: 'invalid_grant', error_description: 'reauth related error (invalid_rapt)', error_uri: 'https://support.google.com/a/answer/9368756', error_subtype: 'invalid_rapt' })
          }
          record.principal = user
          const audience = form.get('target_audience')
          if (audience !== null) return sendJson(res, 200, { id_token: tokens.idToken(user, audience) })
          const issued = tokens.accessToken(user, ['https://www.googleapis.com/auth/cloud-platform'])
          return sendJson(res, 200, { access_token: issued.token, expires_in: issued.expiresIn, token_type: 'Bearer', scope: 'https://www.googleapis.com/auth/cloud-platform' })
        }
        return fail(400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${record.kind}` })
      }

      // Security Token Service token exchange (workload identity federation).
      // https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token
      if (req.method === 'POST' && url.pathname === '/v1/token') {
        const form = new URLSearchParams(text)
        record.kind = 'sts.token'
        record.body = Object.fromEntries([...form].filter(([name]) => name !== 'subject_token'))
        const sts = options.sts
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange') return fail(400, { error: 'invalid_request', error_description: 'Invalid grant_type' })
        // Both required: requested_token_type must be an access token; subject_token_type one of the supported kinds.
        if (form.get('requested_token_type') !== 'urn:ietf:params:oauth:token-type:access_token') return fail(400, { error: 'invalid_request', error_description: 'Invalid value for "requested_token_type"' })
        if (!STS_SUBJECT_TOKEN_TYPES.has(form.get('subject_token_type') ?? '')) return fail(400, { error: 'invalid_request', error_description: 'Invalid value for "subject_token_type"' })
        if (sts === undefined || form.get('audience') !== sts.audience) return fail(400, { error: 'invalid_target', error_description: 'The target service indicated by the "audience" parameters is invalid.' })
        if (form.get('subject_token') !== sts.subjectToken) {
          return fail(400, { error: 'invalid_grant', error_description: 'The audience in ID Token does not match the expected audience.' })
        }
        record.principal = sts.principal
        const issued = tokens.accessToken(sts.principal, (form.get('scope') ?? '').split(' '))
        return sendJson(res, 200, { access_token: issued.token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: issued.expiresIn })
      }

      // IAM Credentials API.
      // https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken
      // https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateIdToken
      const iam = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):(generateAccessToken|generateIdToken)$/.exec(decodeURIComponent(url.pathname))
      if (req.method === 'POST' && iam !== null) {
        const target = iam[1]!
        record.kind = iam[2]!
        const caller = tokens.principalOf(req.headers.authorization)
        if (caller === undefined) return apiError(res, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token.')
        record.principal = caller
        const body = JSON.parse(text || '{}') as { delegates?: string[]; scope?: string[]; lifetime?: string; audience?: string; includeEmail?: boolean }
        record.body = body as Record<string, unknown>
        // The chain caller -> delegates... -> target: each hop needs the token creator role on the next.
        const chain = [caller, ...(body.delegates ?? []).map((d) => d.replace(/^projects\/-\/serviceAccounts\//, '')), target]
        for (let i = 1; i < chain.length; i++) {
          if (!(options.tokenCreators?.get(chain[i]!) ?? []).includes(chain[i - 1]!)) {
            const permission = record.kind === 'generateIdToken' ? 'iam.serviceAccounts.getOpenIdToken' : 'iam.serviceAccounts.getAccessToken'
            record.status = 403
            return apiError(res, 403, 'PERMISSION_DENIED', `Permission '${permission}' denied on resource (or it may not exist).`)
          }
        }
        if (record.kind === 'generateIdToken') {
          if (typeof body.audience !== 'string' || body.audience === '') return apiError(res, 400, 'INVALID_ARGUMENT', 'audience is required')
          return sendJson(res, 200, { token: tokens.idToken(target, body.audience) })
        }
        // `lifetime`: "By default, the maximum allowed value is 1 hour. To set a lifetime of up to 12 hours,
        // you can add the service account as an allowed value in an Organization Policy that enforces the
        // constraints/iam.allowServiceAccountCredentialLifetimeExtension constraint." (generateAccessToken
        // reference above). The status and code follow the API's error model; the text is the stub's own.
        const lifetimeSeconds = Number(/^(\d+)s$/.exec(body.lifetime ?? '3600s')?.[1] ?? 'NaN')
        const maxLifetimeSeconds = options.lifetimeExtensionAllowed?.has(target) === true ? 43200 : 3600
        if (!(lifetimeSeconds > 0 && lifetimeSeconds <= maxLifetimeSeconds)) {
          record.status = 400
          return apiError(res, 400, 'INVALID_ARGUMENT', `The lifetime must be between 1s and ${maxLifetimeSeconds}s${maxLifetimeSeconds === 3600 ? ' unless constraints/iam.allowServiceAccountCredentialLifetimeExtension allows this service account more' : ''}.`)
        }
        const issued = tokens.accessToken(target, body.scope, lifetimeSeconds)
        return sendJson(res, 200, { accessToken: issued.token, expireTime: new Date(Date.now() + lifetimeSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') })
      }
      record.status = 404
      apiError(res, 404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`)
    })
  }

  const plain = http.createServer(handler)
  const servers: Server[] = [plain]
  const port = await listenOnLoopback(plain)
  let tlsPort: number | undefined
  if (tls !== undefined) {
    const secure = https.createServer({ key: tls.key, cert: tls.cert }, handler)
    servers.push(secure)
    tlsPort = await listenOnLoopback(secure)
  }
  return {
    url: `http://127.0.0.1:${port}`,
    tlsPort,
    requests,
    close: async () => {
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as http.Server).closeAllConnections()
      })))
    },
  }
}

export interface TestCertificate {
  key: string
  cert: string
  /** PEM file for NODE_EXTRA_CA_CERTS. */
  certPath: string
  cleanup(): void
}

/**
 * A self-signed certificate for oauth2.googleapis.com, made now with the openssl
 * CLI (node:crypto cannot write X.509). Undefined, with the reason, when openssl
 * is missing.
 */
export function makeGoogleTokenCertificate(): TestCertificate | { missing: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ccred-tls-'))
  const keyPath = join(dir, 'key.pem')
  const certPath = join(dir, 'cert.pem')
  const result = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${GOOGLE_TOKEN_HOST}`, '-addext', `subjectAltName=DNS:${GOOGLE_TOKEN_HOST}`,
    '-keyout', keyPath, '-out', certPath,
  ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  if (result.error !== undefined || result.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    return { missing: `openssl could not make a test certificate (${result.error?.message ?? result.stderr.trim().split('\n').pop()})` }
  }
  return {
    key: readFileSync(keyPath, 'utf8'),
    cert: readFileSync(certPath, 'utf8'),
    certPath,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  }
}
