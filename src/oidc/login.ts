import { CcredError } from '../errors.js'
import type { SecretStore } from '../store/store.js'
import { decideBrowser, launchBrowser } from './browser.js'
import type { OidcConfiguration, TokenResponse } from './client.js'
import { refreshTokenName, type OidcOptions } from './config.js'
import { deviceLogin } from './device.js'
import { loopbackLogin } from './loopback.js'
import { startProgress, type Progress } from './progress.js'

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
 * Signs a person in and files the refresh token in the secret store. Nothing is
 * written unless the sign-in succeeded, so a timeout or an IdP error leaves no residue.
 */
export async function signIn(input: LoginInput): Promise<LoginResult> {
  const { io, profile, options } = input
  const stderr = io.stderr
  const decision = decideBrowser(io.env)
  const flow = input.flow === 'auto' ? (decision.loopback ? 'browser' : 'device') : input.flow
  if (input.flow === 'auto' && flow === 'device') io.stderr.write(`ccred: using the device code flow (${decision.reason})\n`)
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
        io.stderr.write(`ccred: ${launched ? 'opened your browser to sign in; if it did not open, visit' : 'to sign in, open this URL in a browser'}:\n\n  ${url.href}\n\n`)
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
        io.stderr.write(`ccred: to sign in, visit ${prompt.verificationUri} and enter the code:\n\n  ${prompt.userCode}\n\n${prompt.verificationUriComplete === undefined ? '' : `  (or open ${prompt.verificationUriComplete})\n\n`}`)
        waiting = startProgress(stderr, `waiting for the code to be confirmed (expires in ${Math.round(prompt.expiresInS / 60)} min)`)
      },
    }).finally(() => waiting?.stop())
  }
  if (tokens.refresh_token === undefined) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `login for profile ${profile}: the identity provider returned no refresh token, so ccred could not renew tokens without asking again`, {
      hint: `add "offline_access" to scopes in [profiles.${profile}.oidc] and allow the refresh_token grant for client ${options.clientId} at the identity provider`,
    })
  }
  await input.store.set(refreshTokenName(profile), tokens.refresh_token)
  const subject = tokens.claims()?.sub
  return { flow, ...(typeof subject === 'string' ? { subject } : {}) }
}
