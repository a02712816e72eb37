import { systemClock } from '../clock.js'
import { auditLogPath, configPath } from '../config/paths.js'
import type { CredentialService } from '../broker/service.js'

/**
 * The broker in this process: for CCRED_NO_DAEMON=1, for commands that only read
 * the config, and as the fallback when the daemon cannot run. Loaded lazily: it
 * pulls in the config parser and the sources.
 */
export async function inProcessService(env: Record<string, string | undefined>): Promise<CredentialService> {
  const { CredentialService } = await import('../broker/service.js')
  return new CredentialService({
    env,
    clock: systemClock,
    configPath: configPath(env),
    explicitConfig: Boolean(env.CCRED_CONFIG),
    auditPath: auditLogPath(env),
  })
}
