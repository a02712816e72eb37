// A gateway's own token service speaking RFC 8693 (OAuth 2.0 Token Exchange): it takes
// an access token from the IdP (verified against the IdP's JWKS, §2.1 subject_token)
// and answers with a credential of its own, signed with its own key (§2.2.1 response:
// access_token, issued_token_type, token_type, expires_in). Errors follow §2.2.2
// (RFC 6749 §5.2 bodies).
import { generateKeyPairSync } from 'node:crypto'
import http from 'node:http'
import { createRemoteJWKSet, exportJWK, jwtVerify, SignJWT } from 'jose'
import { listenOnLoopback } from './listen.js'

export const EXCHANGED_ISSUER = 'https://sts.gateway.ccred.test'
/** The life of an exchanged token (its `exp`); `expires_in` says a minute more. */
export const EXCHANGED_LIFETIME_S = 900

export interface TokenExchangeServer {
  url: string
  jwksUrl: string
  /** Subjects whose IdP tokens were exchanged, in order. */
  exchanged: string[]
  close(): Promise<void>
}

export async function startTokenExchangeServer(idp: { issuer: string; jwksUrl: string; audience: string }): Promise<TokenExchangeServer> {
  const idpKeys = createRemoteJWKSet(new URL(idp.jwksUrl))
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'sts-1', alg: 'EdDSA', use: 'sig' }
  const exchanged: string[] = []
  const json = (res: http.ServerResponse, status: number, body: object) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(JSON.stringify(body))
  }
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/jwks') return json(res, 200, { keys: [publicJwk] })
    if (req.method !== 'POST' || req.url !== '/token') return json(res, 404, { error: 'not_found' })
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8') })
    req.on('end', () => {
      void (async () => {
        const form = new URLSearchParams(body)
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange') return json(res, 400, { error: 'unsupported_grant_type' })
        if (form.get('subject_token_type') !== 'urn:ietf:params:oauth:token-type:access_token') return json(res, 400, { error: 'invalid_request', error_description: 'subject_token_type must be an access token' })
        const audience = form.get('audience')
        if (audience !== 'llm-gateway') return json(res, 400, { error: 'invalid_target', error_description: 'unknown audience' })
        let subject: string
        try {
          const { payload } = await jwtVerify(form.get('subject_token') ?? '', idpKeys, { issuer: idp.issuer, audience: idp.audience })
          subject = String(payload.sub)
        } catch {
          return json(res, 400, { error: 'invalid_grant', error_description: 'the subject token does not verify' })
        }
        exchanged.push(subject)
        const token = await new SignJWT({ sub: subject, scope: 'llm' })
          .setProtectedHeader({ alg: 'EdDSA', kid: 'sts-1' })
          .setIssuer(EXCHANGED_ISSUER).setAudience(audience).setIssuedAt().setExpirationTime(`${EXCHANGED_LIFETIME_S}s`).setJti(crypto.randomUUID())
          .sign(privateKey)
        // expires_in rounded up, as some token services do: the JWT's own exp is the earlier, and
        // the one a client must keep (so a test knows the expiry exactly from the token it got).
        json(res, 200, { access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: EXCHANGED_LIFETIME_S + 60 })
      })()
    })
  })
  const port = await listenOnLoopback(server)
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    jwksUrl: `${url}/jwks`,
    exchanged,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
