import type { VaultAuthConfig } from '../config.js'
import { login, readTokenFile, type AuthMethod } from './login.js'

/**
 * `method = "kubernetes"`: the pod's service-account token, read anew at each
 * login (projected tokens rotate).
 * https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#login
 */
export function kubernetesAuth(config: Extract<VaultAuthConfig, { method: 'kubernetes' }>): AuthMethod {
  return async (deps) => {
    const jwt = await readTokenFile(deps, config.tokenPath, 'vault: kubernetes login', 'run ccred in a pod with a service account token mounted, or set token_path')
    return login(deps, 'kubernetes', config.role, `check that role "${config.role}" binds this pod's service account and namespace`, (vault, options) =>
      vault.kubernetesLogin({ role: config.role, jwt, mount_point: config.mount, requestOptions: options }))
  }
}
