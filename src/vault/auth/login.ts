import type { Reference } from '../../config/references.js'
import { CcredError } from '../../errors.js'
import { VaultHttpError, type VaultBody, type VaultClient } from '../client.js'
import { vaultError, vaultText } from '../errors.js'

/** What every auth method yields: a Vault token and what Vault said about it. */
export interface VaultLogin {
  token: string
  /** undefined: the token does not expire (a root token, or a TTL of 0). */
  ttlMs?: number
  renewable: boolean
  policies: string[]
  /** A renewal Vault capped at the token's max TTL (its warning says so); not a grant it merely chose to make shorter. */
  cappedAtMaxTtl?: boolean
}

export interface AuthDeps {
  client: VaultClient
  address: string
  env: Record<string, string | undefined>
  homeDir: string
  /** Resolves a reference from the auth table; `key` names the config key ("secret_id"). */
  resolve(ref: Reference, key: string): Promise<string>
  readFile(path: string): Promise<string>
}

export type AuthMethod = (deps: AuthDeps) => Promise<VaultLogin>

/** Reads `auth` of a login response (https://developer.hashicorp.com/vault/docs/concepts/tokens). */
export function loginResult(body: VaultBody, method: string): VaultLogin {
  const auth = body.auth
  if (auth === null || auth === undefined || typeof auth.client_token !== 'string' || auth.client_token === '') {
    throw new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${method} login: Vault answered without a client token`, { hint: 'check the auth method on the Vault side (vault auth list)' })
  }
  const ttlS = typeof auth.lease_duration === 'number' ? auth.lease_duration : 0
  // The documented login responses (AppRole among them) list `token_policies`; older ones `policies`.
  const policies = Array.isArray(auth.token_policies) ? auth.token_policies : Array.isArray(auth.policies) ? auth.policies : []
  const login: VaultLogin = { token: auth.client_token, renewable: auth.renewable === true, policies }
  if (ttlS > 0) login.ttlMs = ttlS * 1000
  // Vault's words when a TTL hits the max: 'TTL of "…" exceeded the effective max_ttl of "…"; TTL value is capped accordingly'.
  if (Array.isArray(body.warnings) && body.warnings.some((warning) => typeof warning === 'string' && /max_ttl/.test(warning))) login.cappedAtMaxTtl = true
  return login
}

/**
 * A refused login is a denial (the role, its bindings or the credentials are
 * wrong); anything else is Vault being unavailable.
 */
export function loginError(error: unknown, method: string, role: string | undefined, address: string, hint: string): CcredError {
  const action = `${method} login${role === undefined ? '' : ` (role "${role}")`}`
  if (error instanceof VaultHttpError && (error.status === 400 || error.status === 401 || error.status === 403)) {
    return new CcredError('ERR_SOURCE_DENIED', `vault: ${action}: Vault refused it: ${vaultText(error.errors, error.status)} (${error.status})`, { hint, cause: error, detail: { httpStatus: error.status } })
  }
  return vaultError(error, action, address)
}

/** A login call: the response's token, or a clear error. */
export async function login(deps: AuthDeps, method: string, role: string | undefined, hint: string, call: Parameters<VaultClient['call']>[0]): Promise<VaultLogin> {
  let body: VaultBody
  try {
    body = (await deps.client.call(call)) as VaultBody
  } catch (error) {
    throw loginError(error, method, role, deps.address, hint)
  }
  return loginResult(body, method)
}

/** Reads a JWT from a file (a Kubernetes service-account token, a CI token file), bounded and trimmed. */
export async function readTokenFile(deps: AuthDeps, path: string, where: string, hint: string): Promise<string> {
  let text: string
  try {
    text = await deps.readFile(path)
  } catch (error) {
    const why = error instanceof CcredError ? error.message : (error as NodeJS.ErrnoException).code ?? 'error'
    throw new CcredError('ERR_LOGIN_REQUIRED', `${where}: cannot read the token file ${path} (${why})`, { hint: error instanceof CcredError && error.hint !== undefined ? error.hint : hint, cause: error })
  }
  const token = text.trim()
  if (token === '' || token.length > 64 * 1024) {
    throw new CcredError('ERR_LOGIN_REQUIRED', `${where}: the token file ${path} is ${token === '' ? 'empty' : 'larger than 64 KiB'}`, { hint })
  }
  return token
}
