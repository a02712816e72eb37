import type { CredentialService } from '../service/service.js'
import { withInProcessService } from '../client/in-process.js'
import { purgeCachedValue } from '../client/purge.js'
import type { ProfileConfig } from '../profiles/load.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import type { OidcOptions } from '../oidc/config.js'
import type { Io } from './io.js'

export interface LoginOptions {
  device?: boolean
  browser?: boolean
}

/**
 * `ccred login <profile>`: signs in with the profile's identity provider in this
 * process (it needs the terminal and the browser, which the daemon has not), files
 * the refresh token, and makes the daemon forget what it cached for the profile.
 */
export async function runLogin(profileName: string, options: LoginOptions, io: Io): Promise<number> {
  if (options.device && options.browser) throw new CcredError('ERR_USAGE', '--device and --browser exclude each other', { hint: 'pick one, or neither to let ccred choose' })
  return withInProcessService(io.env, async (service) => {
    const { profile, oidc } = await oidcProfile(service, profileName, 'login')
    if (oidc.grant === 'client_credentials') {
      throw new CcredError('ERR_USAGE', `profile ${profileName} uses client_credentials (a service account): there is no one to sign in`, { hint: `just run: ccred get ${profileName}` })
    }
    const [{ discoverClient }, { signIn }] = await Promise.all([import('../oidc/client.js'), import('../oidc/login.js')])
    const context = service.runtime.fetchContext(profile)
    const config = await discoverClient(oidc, (ref, key) => context.resolve(ref, key), profileName)
    const store = service.runtime.store()
    const result = await signIn({ profile: profileName, options: oidc, config, store, io, flow: options.device ? 'device' : options.browser ? 'browser' : 'auto' })
    await purgeCachedValue(profileName, io.env, (line) => io.stderr.write(`${line}\n`))
    io.stderr.write(`ccred: signed in for profile ${profileName}${result.subject === undefined ? '' : ` as ${result.subject}`}; the refresh token is in ${store.describe()}. Next: ccred get ${profileName}\n`)
    return EXIT_CODES.OK
  })
}

export async function oidcProfile(service: CredentialService, profileName: string, command: string): Promise<{ profile: ProfileConfig; oidc: OidcOptions }> {
  const profile = await service.config.profile(profileName)
  const oidc = profile.source.loginTarget()
  if (oidc === undefined) {
    throw new CcredError('ERR_USAGE', `profile ${profileName} has source "${profile.sourceKind}"; ${command} works with source = "oidc" profiles`, { hint: 'list profiles and their sources with: ccred profiles' })
  }
  return { profile, oidc }
}
