import { CcredError } from '../errors.js'
import type { SecretStore } from '../store/store.js'
import { decideBrowser, launchBrowser } from './browser.js'
import type { OidcConfiguration, TokenResponse } from './client.js'
import { refreshTokenName, type OidcOptions } from './config.js'
import { deviceLogin } from './device.js'
import { loopbackLogin } from './loopback.js'
import { startProgress, type Progress } from './progress.js'
import { sanitizeLine } from '../text/sanitize.js'

export type LoginFlow = 'auto' | 'browser' | 'device'

/** Where a sign-in talks to the person: the environment (which browser) and stderr (the URL, the code). */
export interface LoginIo {
  env: Record<string, string | undefined>
  stderr: { write(text: string): unknown; isTTY?: boolean }
}

export interface LoginInput {
  profile: string
  options: OidcOptions
  config: OidcConfiguration
  store: SecretStore
  io: LoginIo
  flow: LoginFlow
}

export interface LoginResult {
  flow: 'browser' | 'device'
  subject?: string
}

/**
 * The flow asked for, or for `auto` the browser where one can open and the server has an
 * authorization endpoint; a server with only the device grant (the Claude apps gateway)
 * gets the device flow. `--browser` against such a server is the user's mistake, said so.
 */
function chooseFlow(input: LoginInput, decision: { loopback: boolean }): 'browser' | 'device' {
  const browserPossible = offersAuthorizationEndpoint(input.config)
  if (input.flow === 'auto') return decision.loopback && browserPossible ? 'browser' : 'device'
  if (input.flow === 'browser' && !browserPossible) {
    throw new CcredError('ERR_USAGE', `${input.options.issuer} offers no authorization endpoint, so there is no browser sign-in for profile ${input.profile}`, {
      hint: `sign in with the device code flow: ccred login ${input.profile} --device`,
    })
  }
  return input.flow
}

function offersAuthorizationEndpoint(config: OidcConfiguration): boolean {
  return typeof config.serverMetadata().authorization_endpoint === 'string'
}

/**
 * Signs a person in and files the refresh token in the secret store. Nothing is
 * written unless the sign-in succeeded, so a timeout or an IdP error leaves no residue.
 */
export async function signIn(input: LoginInput): Promise<LoginResult> {
  const { io, profile, options } = input
  const stderr = io.stderr
  const decision = decideBrowser(io.env)
  const flow = chooseFlow(input, decision)
  if (input.flow === 'auto' && flow === 'device') io.stderr.write(`ccred: using the device code flow (${offersAuthorizationEndpoint(input.config) ? decision.reason : `${options.issuer} offers only the device code flow`})\n`)
  // Started once the URL or code is shown, stopped when the flow settles.
  let waiting: Progress | undefined
  let tokens: TokenResponse
  if (flow === 'browser') {
    tokens = await loopbackLogin({
      config: input.config,
      options,
      profile,
      timeoutMs: options.loginTimeoutMs,
      present: async (url) => {
        const launched = decision.launch && (await launchBrowser(url.href))
        io.stderr.write(`ccred: ${launched ? 'opened your browser to sign in; if it did not open, visit' : 'to sign in, open this URL in a browser'}:\n\n  ${sanitizeLine(url.href)}\n\n`)
        waiting = startProgress(stderr, `waiting for the sign-in to ${options.issuer} to finish in the browser`)
      },
    }).finally(() => waiting?.stop())
  } else {
    tokens = await deviceLogin({
      config: input.config,
      options,
      profile,
      timeoutMs: options.loginTimeoutMs,
      present: (prompt) => {
        // The identity provider chose these strings: they pass the terminal sanitizer.
        io.stderr.write(`ccred: to sign in, visit ${sanitizeLine(prompt.verificationUri)} and enter the code:\n\n  ${sanitizeLine(prompt.userCode)}\n\n${prompt.verificationUriComplete === undefined ? '' : `  (or open ${sanitizeLine(prompt.verificationUriComplete)})\n\n`}`)
        waiting = startProgress(stderr, `waiting for the code to be confirmed (expires in ${Math.round(prompt.expiresInS / 60)} min)`)
      },
    }).finally(() => waiting?.stop())
  }
  if (tokens.refresh_token === undefined) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `login for profile ${profile}: the identity provider returned no refresh token, so ccred could not renew tokens without asking again`, {
      hint: offersAuthorizationEndpoint(input.config)
        ? `add "offline_access" to scopes in [profiles.${profile}.oidc] and allow the refresh_token grant for client ${options.clientId} at the identity provider`
        // A device-only server such as the Claude apps gateway hands back its own IdP's refresh token.
        : `ask the operator of ${options.issuer} to let its identity provider issue refresh tokens (the Claude apps gateway: offline_access, and oidc.extra_auth_params prompt: consent where the IdP needs it)`,
    })
  }
  await input.store.set(refreshTokenName(profile), tokens.refresh_token)
  const subject = tokens.claims()?.sub
  return { flow, ...(typeof subject === 'string' ? { subject } : {}) }
}
