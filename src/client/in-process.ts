import { disableCoreDumps } from '../rendezvous/core-dumps.js'
import type { CredentialService } from '../service/service.js'

/**
 * Runs `work` with the broker in this process: for CCRED_NO_DAEMON=1, for
 * commands that only read the config, and as the fallback when the daemon cannot
 * run. Loaded lazily (it pulls in the config parser and the sources) and closed
 * afterwards (timers stopped, audit log flushed).
 */
export async function withInProcessService<T>(env: Record<string, string | undefined>, work: (service: CredentialService) => Promise<T>): Promise<T> {
  // Secrets will sit in this process's memory, as in the daemon's: no core dump of it either.
  disableCoreDumps()
  const { serviceForEnvironment } = await import('../service/service.js')
  const service = serviceForEnvironment(env)
  try {
    return await work(service)
  } finally {
    await service.close()
  }
}
