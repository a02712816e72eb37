import type { VaultAuthConfig } from '../config.js'
import { approleAuth } from './approle.js'
import { awsAuth } from './aws.js'
import { jwtAuth } from './jwt.js'
import { kubernetesAuth } from './kubernetes.js'
import type { AuthMethod } from './login.js'
import { tokenAuth } from './token.js'

/** The login function for a configured auth method. */
export function authMethod(config: VaultAuthConfig): AuthMethod {
  switch (config.method) {
    case 'token': return tokenAuth(config)
    case 'approle': return approleAuth(config)
    case 'jwt': return jwtAuth(config)
    case 'kubernetes': return kubernetesAuth(config)
    case 'aws': return awsAuth(config)
  }
}
