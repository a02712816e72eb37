import { withInProcessService } from '../client/in-process.js'
import { purgeCachedValue } from '../client/purge.js'
import { refreshTokenName } from '../oidc/config.js'
import type { Io } from './io.js'
import { oidcProfile } from './login.js'
import { EXIT_CODES } from '../errors.js'

/**
 * `ccred logout <profile>`: revokes the refresh token at the identity provider
 * (RFC 7009) where it offers revocation, deletes it from the secret store, and
 * makes the daemon drop its cached token. A failed revocation is reported but
 * does not keep the token on this machine.
 */
export async function runLogout(profileName: string, io: Io): Promise<number> {
  return withInProcessService(io.env, async (service) => {
    const { profile, oidc } = await oidcProfile(service, profileName, 'logout')
    const store = service.runtime.store()
    const name = refreshTokenName(profileName)
    const refreshToken = await store.get(name)
    let revoked = 'nothing to revoke'
    if (refreshToken !== undefined) revoked = await revoke(refreshToken)
    const deleted = await store.delete(name)
    await purgeCachedValue(profileName, io.env, (line) => io.stderr.write(`${line}\n`))
    io.stderr.write(`ccred: signed out of profile ${profileName}: ${deleted ? `refresh token deleted from ${store.describe()}` : 'no refresh token was stored'} and the cached token forgotten; ${revoked}\n`)
    return EXIT_CODES.OK

    async function revoke(token: string): Promise<string> {
      const [client, { discoverClient, describeOidcError }] = await Promise.all([import('openid-client'), import('../oidc/client.js')])
      try {
        const context = service.runtime.fetchContext(profile)
        const config = await discoverClient(oidc, (ref, key) => context.resolve(ref, key), profileName)
        if (config.serverMetadata().revocation_endpoint === undefined) return `${oidc.issuer} has no revocation endpoint, so nothing was revoked there (its session ends when its tokens expire)`
        await client.tokenRevocation(config, token, { token_type_hint: 'refresh_token' })
        return `revoked at ${oidc.issuer}`
      } catch (error) {
        io.stderr.write(`ccred: warning: could not revoke the refresh token at ${oidc.issuer}: ${describeOidcError(error)}\n`)
        return 'revocation failed (see the warning)'
      }
    }
  })
}
