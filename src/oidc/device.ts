import { CcredError } from '../errors.js'
import { grantParameters, oauthErrorCode, oidcError, type OidcConfiguration, type TokenResponse } from './client.js'
import type { OidcOptions } from './config.js'

export interface DeviceLoginInput {
  config: OidcConfiguration
  options: OidcOptions
  profile: string
  /** Shows where to go and the code to type; waiting starts after it returns. */
  present(prompt: { verificationUri: string; verificationUriComplete?: string; userCode: string; expiresInS: number }): void
  timeoutMs: number
}

/**
 * Device authorization (RFC 8628) for machines without a usable browser. openid-client
 * polls at the server's `interval` and slows down on `slow_down`; the wait ends at the
 * code's expiry or the login timeout, whichever comes first.
 */
export async function deviceLogin(input: DeviceLoginInput): Promise<TokenResponse> {
  const client = await import('openid-client')
  if (input.config.serverMetadata().device_authorization_endpoint === undefined) {
    throw new CcredError('ERR_USAGE', `the identity provider ${input.options.issuer} offers no device authorization endpoint`, {
      hint: `sign in with the browser flow: ccred login ${input.profile} (on a remote machine: CCRED_BROWSER=none and an SSH port forward)`,
    })
  }
  const parameters = grantParameters(input.options)
  let started
  try {
    started = await client.initiateDeviceAuthorization(input.config, parameters)
  } catch (error) {
    throw oidcError(error, `login for profile ${input.profile}: device authorization failed`, (code) =>
      code === 'ERR_SOURCE_DENIED' ? 'the client must be registered with the device_code grant (urn:ietf:params:oauth:grant-type:device_code)' : 'check the network and the identity provider')
  }
  input.present({
    verificationUri: started.verification_uri,
    ...(started.verification_uri_complete === undefined ? {} : { verificationUriComplete: started.verification_uri_complete }),
    userCode: started.user_code,
    expiresInS: started.expires_in,
  })
  const waitMs = Math.min(input.timeoutMs, started.expires_in * 1000)
  try {
    return await client.pollDeviceAuthorizationGrant(input.config, started, input.options.resource === undefined ? undefined : { resource: input.options.resource }, { signal: AbortSignal.timeout(waitMs) })
  } catch (error) {
    const code = oauthErrorCode(error)
    if (code === 'access_denied') {
      throw new CcredError('ERR_SOURCE_DENIED', `login for profile ${input.profile}: the sign-in was refused at the identity provider (access_denied)`, { hint: `run ccred login ${input.profile} --device again and approve the request`, cause: error })
    }
    if (code === 'expired_token' || (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError') {
      throw new CcredError('ERR_LOGIN_REQUIRED', `login for profile ${input.profile} timed out after ${Math.round(waitMs / 1000)}s: the code ${started.user_code} was not confirmed`, { hint: `run ccred login ${input.profile} --device again and enter the new code`, cause: error })
    }
    throw oidcError(error, `login for profile ${input.profile} failed`, (code) =>
      code === 'ERR_SOURCE_UNAVAILABLE' ? `the identity provider is unavailable; try again later: ccred login ${input.profile}` : `run: ccred login ${input.profile}`,
    { noOauthError: 'ERR_LOGIN_REQUIRED', refused: 'ERR_LOGIN_REQUIRED' })
  }
}
