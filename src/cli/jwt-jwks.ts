import { withInProcessService } from '../client/in-process.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import type { Io } from './io.js'

/** `ccred jwt jwks <profile>`: the JWKS a gateway admin publishes (public keys only). */
export async function runJwtJwks(profileName: string, io: Io): Promise<number> {
  return withInProcessService(io.env, async (service) => {
    const profile = await service.config.profile(profileName)
    const jwks = await profile.source.publishedKeys(service.runtime.fetchContext(profile))
    if (jwks === undefined) {
      throw new CcredError('ERR_USAGE', `profile ${profileName} uses source "${profile.sourceKind}", not "jwt"; only a jwt profile has signing keys`, {
        hint: 'list profiles and their sources with: ccred profiles',
      })
    }
    io.stdout.write(`${JSON.stringify(jwks, null, 2)}\n`)
    return EXIT_CODES.OK
  })
}
