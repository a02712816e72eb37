import type { VaultAuthConfig } from '../config.js'
import { login, type AuthMethod } from './login.js'

/**
 * `method = "approle"`: a role_id and secret_id (CI service accounts).
 * https://developer.hashicorp.com/vault/api-docs/auth/approle#login-with-approle
 */
export function approleAuth(config: Extract<VaultAuthConfig, { method: 'approle' }>): AuthMethod {
  return async (deps) => {
    const roleId = await deps.resolve(config.roleId, 'role_id')
    const secretId = config.secretId === undefined ? undefined : await deps.resolve(config.secretId, 'secret_id')
    const args: Record<string, string> = { role_id: roleId.trim(), mount_point: config.mount }
    if (secretId !== undefined) args.secret_id = secretId.trim()
    return login(deps, 'approle', undefined, 'check role_id and secret_id (a secret_id can expire or run out of uses: ask for a new one)', (vault, options) =>
      vault.approleLogin({ ...args, requestOptions: options }))
  }
}
