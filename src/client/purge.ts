import { warningLine } from '../errors.js'
import { ROUTES, type PurgeRequest, type PurgeResponse } from '../protocol.js'
import { DaemonNotRunning, requestDaemon, unwrap } from './transport.js'

/**
 * Makes a running daemon drop a profile's cached value, after its secret changed
 * (`ccred set`, a replaced signing key), so the next `get` uses the new one. No
 * daemon: nothing is cached. A daemon that does not answer: say how to fix it.
 */
export async function purgeCachedValue(profile: string, env: Record<string, string | undefined>, warn: (line: string) => void): Promise<void> {
  try {
    unwrap<PurgeResponse>(await requestDaemon(env, 'POST', ROUTES.purge, { profile } satisfies PurgeRequest, 5_000))
  } catch (error) {
    if (!(error instanceof DaemonNotRunning)) warn(warningLine('WARN_CACHE_NOT_DROPPED', `the daemon did not drop its cached value for ${profile} (${(error as Error).message})`, 'run: ccred daemon stop'))
  }
}
