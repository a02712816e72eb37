import { CcredError } from '../../errors.js'
import type { VaultAuthConfig } from '../config.js'
import { login, type AuthDeps, type AuthMethod } from './login.js'

type JwtAuthConfig = Extract<VaultAuthConfig, { method: 'jwt' }>

/**
 * `method = "jwt"`: a JWT from the CI system, exchanged for a Vault token.
 * GitHub Actions: requested from ACTIONS_ID_TOKEN_REQUEST_URL for the configured
 * audience; GitLab: an `id_tokens` variable (env:); anything else: a file.
 * https://developer.hashicorp.com/vault/api-docs/auth/jwt#jwt-login
 */
export function jwtAuth(config: JwtAuthConfig): AuthMethod {
  return async (deps) => {
    const jwt = config.jwt === 'github-actions' ? await githubActionsToken(config, deps) : (await deps.resolve(config.jwt, 'jwt')).trim()
    return login(deps, 'jwt', config.role, `check that role "${config.role}" accepts this JWT (bound_audiences, bound_claims, the JWKS or issuer Vault trusts)`, (vault, options) =>
      vault.jwtLogin({ role: config.role, jwt, mount_point: config.mount, requestOptions: options }))
  }
}

const MAX_OIDC_RESPONSE_BYTES = 64 * 1024

/**
 * GitHub Actions' OIDC token: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=… with
 * the bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN, answering {"value": "<jwt>"}.
 * https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
 */
async function githubActionsToken(config: JwtAuthConfig, deps: AuthDeps): Promise<string> {
  const url = deps.env.ACTIONS_ID_TOKEN_REQUEST_URL
  const bearer = deps.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
  if (!url || !bearer) {
    throw new CcredError('ERR_LOGIN_REQUIRED', 'vault: jwt login: ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: not in a GitHub Actions job with OIDC', {
      hint: 'give the job `permissions: id-token: write`, and start the ccred daemon inside that job',
    })
  }
  const request = new URL(url)
  if (config.audience !== undefined) request.searchParams.set('audience', config.audience)
  const failed = (why: string) => new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: jwt login: GitHub Actions OIDC token request failed: ${why}`, {
    hint: 'check `permissions: id-token: write` in the workflow; retry the job',
  })
  let response: Response
  try {
    response = await fetch(request, {
      headers: { authorization: `Bearer ${bearer}`, accept: 'application/json; api-version=2.0' },
      signal: AbortSignal.timeout(deps.client.options.timeoutMs),
    })
  } catch (error) {
    throw failed((error as Error).name === 'TimeoutError' ? 'no answer in time' : String((error as Error).message).slice(0, 200))
  }
  const text = await response.text()
  if (!response.ok) throw failed(`HTTP ${response.status}`)
  if (text.length > MAX_OIDC_RESPONSE_BYTES) throw failed('the answer is larger than 64 KiB')
  let value: unknown
  try {
    value = (JSON.parse(text) as { value?: unknown }).value
  } catch { /* said below */ }
  if (typeof value !== 'string' || value === '') throw failed('the answer has no "value"')
  return value
}
