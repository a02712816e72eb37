import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CcredError } from '../errors.js'
import { describeOidcError, grantParameters, oidcError, type OidcConfiguration, type TokenResponse } from './client.js'
import type { OidcOptions } from './config.js'

export interface LoopbackLoginInput {
  config: OidcConfiguration
  options: OidcOptions
  profile: string
  /** Shows the authorization URL (print, open the browser); called once the server listens. */
  present(url: URL): Promise<void>
  timeoutMs: number
}

/**
 * Authorization code + PKCE (S256) with state and nonce on a loopback redirect
 * (RFC 8252 §7.3: http://127.0.0.1:<port>/callback, a random port unless the profile
 * fixes one). Serves one small page telling the user how it went, then stops.
 */
export async function loopbackLogin(input: LoopbackLoginInput): Promise<TokenResponse> {
  const client = await import('openid-client')
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const wantsIdToken = input.options.scopes.includes('openid')

  let settle!: { resolve(tokens: TokenResponse): void; reject(error: unknown): void }
  const outcome = new Promise<TokenResponse>((resolve, reject) => { settle = { resolve, reject } })
  let redirectUri = ''
  let handled = false

  const server = createServer((req, res) => {
    void handle(req, res)
  })
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', redirectUri)
    if (req.method !== 'GET' || url.pathname !== '/callback') return page(res, 404, 'Not found', 'This is ccred\'s sign-in callback; nothing else lives here.')
    if (handled) return page(res, 409, 'Already handled', 'This sign-in has already been handled; you can close this tab.')
    handled = true
    try {
      const tokens = await client.authorizationCodeGrant(input.config, url, {
        pkceCodeVerifier: codeVerifier,
        expectedState: state,
        ...(wantsIdToken ? { expectedNonce: nonce, idTokenExpected: true } : {}),
      }, resourceParameter(input.options))
      page(res, 200, 'Signed in', `ccred is signed in for profile ${input.profile}. You can close this tab and return to the terminal.`)
      settle.resolve(tokens)
    } catch (error) {
      page(res, 400, 'Sign-in failed', `ccred could not sign in: ${describeOidcError(error)}. Return to the terminal for what to do next.`)
      settle.reject(oidcError(error, (description) => `login for profile ${input.profile} failed: the identity provider answered ${description}`, (code) =>
        code === 'ERR_SOURCE_DENIED' ? `sign in and approve the request, then run: ccred login ${input.profile} (or ask your IdP admin to assign the app)`
          : code === 'ERR_SOURCE_UNAVAILABLE' ? `the identity provider is unavailable; try again later: ccred login ${input.profile}`
            : `run: ccred login ${input.profile}   (--device to use the device code flow)`,
      { noOauthError: 'ERR_LOGIN_REQUIRED', refused: 'ERR_LOGIN_REQUIRED' }))
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(new CcredError('ERR_USAGE', `login: cannot listen on 127.0.0.1:${input.options.redirectPort} (${error.code ?? error.message})`, {
      hint: error.code === 'EADDRINUSE' ? `another program uses port ${input.options.redirectPort}; stop it or change redirect_port in [profiles.${input.profile}.oidc]` : 'check the local firewall',
    })))
    server.listen(input.options.redirectPort, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  redirectUri = `http://127.0.0.1:${port}/callback`
  const timer = setTimeout(() => settle.reject(new CcredError('ERR_LOGIN_REQUIRED', `login for profile ${input.profile} timed out after ${Math.round(input.timeoutMs / 1000)}s: the browser never came back to ${redirectUri}`, {
    hint: `run ccred login ${input.profile} again and finish the sign-in in the browser; without a browser here use: ccred login ${input.profile} --device`,
  })), input.timeoutMs)
  try {
    const parameters: Record<string, string> = {
      ...grantParameters(input.options),
      redirect_uri: redirectUri,
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
    }
    if (wantsIdToken) parameters.nonce = nonce
    // OpenID Connect Core §11: offline_access (a refresh token) is granted only with consent.
    if (input.options.scopes.includes('offline_access')) parameters.prompt = 'consent'
    await input.present(client.buildAuthorizationUrl(input.config, parameters))
    return await outcome
  } finally {
    clearTimeout(timer)
    server.closeAllConnections()
    server.close()
  }
}

/** RFC 8707: the token request names the resource again so the access token is minted for it. */
export function resourceParameter(options: OidcOptions): Record<string, string> {
  return options.resource === undefined ? {} : { resource: options.resource }
}

function page(res: ServerResponse, status: number, title: string, text: string): void {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ccred: ${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}</style></head>
<body><h1 id="ccred-result" data-status="${status === 200 ? 'success' : 'failure'}">${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>`
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' })
  res.end(body)
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
