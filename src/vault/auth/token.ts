import { join } from 'node:path'
import { formatReference } from '../../config/references.js'
import { CcredError } from '../../errors.js'
import { VaultHttpError, type VaultBody } from '../client.js'
import type { VaultAuthConfig } from '../config.js'
import { vaultError } from '../errors.js'
import type { AuthDeps, AuthMethod, VaultLogin } from './login.js'

const LOGIN_HINT = 'run: vault login   (it writes ~/.vault-token, which ccred re-reads), or set the token reference in the vault auth settings'

/**
 * `method = "token"`: a token the user already has, from the configured
 * reference, else VAULT_TOKEN, else ~/.vault-token (as the vault CLI looks).
 * "Logging in" re-reads it, so a new `vault login` is picked up, and asks Vault
 * about it (lookup-self) for its TTL and whether it renews.
 * https://developer.hashicorp.com/vault/api-docs/auth/token#lookup-a-token-self
 */
export function tokenAuth(config: Extract<VaultAuthConfig, { method: 'token' }>): AuthMethod {
  return async (deps) => {
    const { token, from } = await findToken(config, deps)
    let body: VaultBody
    try {
      body = (await deps.client.call((vault, options) => vault.tokenLookupSelf({ requestOptions: options }), token)) as VaultBody
    } catch (error) {
      if (error instanceof VaultHttpError && error.status === 403) {
        throw new CcredError('ERR_LOGIN_REQUIRED', `vault: the token from ${from} is not valid (expired or revoked)`, { hint: LOGIN_HINT, cause: error, detail: { httpStatus: error.status } })
      }
      throw vaultError(error, 'token lookup-self', deps.address)
    }
    const data = (body.data ?? {}) as { ttl?: unknown; renewable?: unknown; policies?: unknown }
    const login: VaultLogin = { token, renewable: data.renewable === true, policies: Array.isArray(data.policies) ? (data.policies as string[]) : [] }
    if (typeof data.ttl === 'number' && data.ttl > 0) login.ttlMs = data.ttl * 1000
    return login
  }
}

async function findToken(config: Extract<VaultAuthConfig, { method: 'token' }>, deps: AuthDeps): Promise<{ token: string; from: string }> {
  if (config.token !== undefined) return { token: (await deps.resolve(config.token, 'token')).trim(), from: formatReference(config.token) }
  const fromEnv = deps.env.VAULT_TOKEN
  if (fromEnv !== undefined && fromEnv.trim() !== '') return { token: fromEnv.trim(), from: 'VAULT_TOKEN' }
  const path = join(deps.homeDir, '.vault-token')
  try {
    const token = (await deps.readFile(path)).trim()
    if (token !== '') return { token, from: '~/.vault-token' }
  } catch { /* no file: said below */ }
  throw new CcredError('ERR_LOGIN_REQUIRED', 'vault: no Vault token: VAULT_TOKEN is not set in the daemon\'s environment and ~/.vault-token does not exist', { hint: LOGIN_HINT })
}
