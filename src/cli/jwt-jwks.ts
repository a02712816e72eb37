import { withInProcessService } from '../client/in-process.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import type { JwtOptions } from '../sources/jwt.js'
import type { Io } from './io.js'

/** `ccred jwt jwks <profile>`: the JWKS a gateway admin publishes (public keys only). */
export async function runJwtJwks(profileName: string, io: Io): Promise<number> {
  return withInProcessService(io.env, async (service) => {
    const profile = await service.profile(profileName)
    if (profile.sourceKind !== 'jwt') {
      throw new CcredError('ERR_USAGE', `profile ${profileName} uses source "${profile.sourceKind}", not "jwt"; only a jwt profile has signing keys`, {
        hint: 'list profiles and their sources with: ccred profiles',
      })
    }
    const { jwksFor } = await import('../sources/jwt.js')
    const jwks = await jwksFor(profile.options as JwtOptions, service.fetchContext(profile))
    io.stdout.write(`${JSON.stringify(jwks, null, 2)}\n`)
    return EXIT_CODES.OK
  })
}
