// How a JWT-authenticating gateway (LiteLLM's JWT auth, or a custom one) checks ccred's
// tokens: it fetches the issuer's JWKS over HTTP (a remote JWK set, RFC 7517 §5) and verifies
// each token with jose: signature, `iss`, `aud`, `exp` and `nbf` (RFC 7519 §4.1).
import http from 'node:http'
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { listenOnLoopback } from './listen.js'

export interface JwksServer {
  url: string
  /** Replace the published keys (a key rotation). */
  publish(jwks: { keys: object[] }): void
  /** How many times the JWKS was fetched. */
  fetches: number
  close(): Promise<void>
}

/** Serves `GET /.well-known/jwks.json` on loopback. */
export async function startJwksServer(initial: { keys: object[] } = { keys: [] }): Promise<JwksServer> {
  let body = JSON.stringify(initial)
  const state = { fetches: 0 }
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end()
      return
    }
    state.fetches++
    res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  const port = await listenOnLoopback(server)
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    publish(jwks) { body = JSON.stringify(jwks) },
    get fetches() { return state.fetches },
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}

export interface JwtCheck {
  jwksUrl: string
  issuer: string
  audience: string
  /** Verify as of this time instead of now (to show an expired token is refused). */
  currentDate?: () => Date
  /** Every payload that verified, in order. */
  accepted?: JWTPayload[]
}

/** A `verify` for startGateway: undefined when the token verifies, else jose's reason. */
export function jwtVerifier(check: JwtCheck): (token: string) => Promise<string | undefined> {
  const keys = createRemoteJWKSet(new URL(check.jwksUrl), { cooldownDuration: 0 })
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: check.issuer,
        audience: check.audience,
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'],
        requiredClaims: ['exp', 'iat', 'nbf', 'jti'],
        ...(check.currentDate === undefined ? {} : { currentDate: check.currentDate() }),
      })
      check.accepted?.push(payload)
      return undefined
    } catch (error) {
      return `${(error as { code?: string }).code ?? 'ERR'}: ${(error as Error).message}`
    }
  }
}
