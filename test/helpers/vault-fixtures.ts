// What the Vault tests share: an OIDC issuer key pair (its JWKS goes into the Vault test
// server's jwt config), a loopback stub of GitHub Actions' OIDC token request URL, and
// fixed AWS test keys that the server's STS model knows.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import http from 'node:http'
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type JWTPayload, type CryptoKey } from 'jose'
import { listenOnLoopback } from './listen.js'
import type { ServerClock } from './vault-server.js'

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com'

export interface Issuer {
  jwks: JSONWebKeySet
  sign(claims: JWTPayload, options?: { lifetimeS?: number; nowMs?: number }): Promise<string>
}

/** An RS256 key pair standing for an OIDC issuer (GitHub Actions, GitLab). */
export async function createIssuer(issuer = GITHUB_ISSUER, kid = 'github-key-1'): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256')
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }
  return {
    jwks: { keys: [jwk] },
    sign: (claims, options = {}) => signWith(privateKey, kid, issuer, claims, options),
  }
}

async function signWith(key: CryptoKey, kid: string, issuer: string, claims: JWTPayload, options: { lifetimeS?: number; nowMs?: number }): Promise<string> {
  const nowS = Math.floor((options.nowMs ?? Date.now()) / 1000)
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setIssuedAt(nowS)
    .setNotBefore(nowS - 5)
    .setExpirationTime(nowS + (options.lifetimeS ?? 300))
    .sign(key)
}

export interface GithubOidcStub {
  /** ACTIONS_ID_TOKEN_REQUEST_URL, with the query string GitHub puts there. */
  requestUrl: string
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  requestToken: string
  requests: { audience: string | null; authorized: boolean }[]
  close(): Promise<void>
}

/**
 * GitHub Actions' token request endpoint: GET <url>&audience=… with
 * `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` → {"value": "<jwt>"}, the
 * JWT carrying GitHub's claims (repository, ref, sub) and the requested audience.
 * https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
 */
export async function startGithubOidcStub(issuer: Issuer, claims: JWTPayload, clock?: ServerClock): Promise<GithubOidcStub> {
  const requestToken = `ghs_${randomBytes(16).toString('hex')}`
  const requests: GithubOidcStub['requests'] = []
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub')
    const authorized = req.headers.authorization === `Bearer ${requestToken}`
    const audience = url.searchParams.get('audience')
    requests.push({ audience, authorized })
    if (!authorized || url.pathname !== '/_apis/distributedtask/token') {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message: 'Bad credentials' }))
      return
    }
    void issuer.sign({ ...claims, aud: audience ?? `https://github.com/${String(claims.repository_owner ?? 'octo-org')}` }, clock === undefined ? {} : { nowMs: clock.now() }).then((value) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ count: 1, value }))
    })
  })
  const port = await listenOnLoopback(server)
  return {
    requestUrl: `http://127.0.0.1:${port}/_apis/distributedtask/token?api-version=2.0`,
    requestToken,
    requests,
    close: () => new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}

/** IAM test keys (AWS's documented example key shape) and the principal STS maps them to. */
export const AWS_TEST_KEY = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  arn: 'arn:aws:iam::123456789012:role/ci-runner',
}
export const AWS_PROFILE_KEY = {
  accessKeyId: 'AKIAI44QH8DHBEXAMPLE',
  secretAccessKey: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
  arn: 'arn:aws:iam::123456789012:user/laptop-dev',
}

/**
 * A CA and a server certificate for 127.0.0.1 it signed, made with the openssl CLI (Node
 * cannot issue certificates); undefined when openssl is missing.
 */
export function makeTlsCertificates(dir: string): { caPath: string; key: string; cert: string } | undefined {
  const run = (args: string[]) => spawnSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  if (run(['version']).error !== undefined) return undefined
  const steps = [
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ccred test CA'],
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'],
  ]
  for (const step of steps) if (run(step).status !== 0) return undefined
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName = IP:127.0.0.1\n')
  const sign = run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'])
  if (sign.status !== 0) return undefined
  return { caPath: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.pem'), 'utf8') }
}
