import { lifetimeInWholeSecondsMs } from '../config/duration.js'
import { ROUTES, type StatusResponse } from '../protocol.js'
import { requestDaemon, unwrap } from './transport.js'

/**
 * How long a profile's credentials live, for sizing the helper TTL (`setup claude`,
 * `doctor`): the whole lifetime of the value just issued. The daemon knows when it
 * fetched the value; without a daemon, what is left of it is a safe lower bound.
 */
export async function issuedLifetimeMs(profile: string, expiresAt: string, env: Record<string, string | undefined>, nowMs = Date.now()): Promise<number> {
  const expiresAtMs = Date.parse(expiresAt)
  let lifetimeMs = expiresAtMs - nowMs
  try {
    const status = unwrap<StatusResponse>(await requestDaemon(env, 'GET', ROUTES.status, undefined, 5_000))
    const fetchedAt = status.profiles.find((p) => p.profile === profile)?.lastRefreshAt
    if (fetchedAt !== undefined) lifetimeMs = expiresAtMs - Date.parse(fetchedAt)
  } catch {
    // No daemon (CCRED_NO_DAEMON): what is left is a safe lower bound.
  }
  return lifetimeInWholeSecondsMs(lifetimeMs)
}
