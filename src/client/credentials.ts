import { warningLine } from '../errors.js'
import type { IssuedCredential } from '../protocol.js'
import { isUnreachable, requestFromDaemon, withClientFacts, type CredentialQuery, type Env } from './daemon-request.js'

export type { CredentialQuery } from './daemon-request.js'

/** How a command obtains a credential; the warm path passes one that never starts anything. */
export type CredentialFetcher = (query: CredentialQuery, env: Env, warn: (line: string) => void) => Promise<IssuedCredential>

async function fromThisProcess(query: CredentialQuery, env: Env): Promise<IssuedCredential> {
  const { withInProcessService } = await import('./in-process.js')
  return withInProcessService(env, (service) => service.get(withClientFacts(query, env)))
}

/**
 * Asks the daemon; starts it when it is not running (and retries once); fetches
 * in this process when the daemon cannot run or CCRED_NO_DAEMON=1. `warn` gets
 * one line for stderr when it falls back.
 */
export const requestCredential: CredentialFetcher = async (query, env, warn) => {
  if (env.CCRED_NO_DAEMON === '1') return fromThisProcess(query, env)
  const first = await requestFromDaemon(query, env)
  if (!isUnreachable(first)) return first
  if (first.reason === 'unsafe-dir') {
    warn(warningLine('WARN_DAEMON_FALLBACK', `not using the daemon: ${first.error.message}; fetching in this process`, first.error.hint))
    return fromThisProcess(query, env)
  }
  // Loaded only when needed: child_process costs the warm path several milliseconds.
  const { startDaemonInBackground } = await import('./autostart.js')
  const started = await startDaemonInBackground(env)
  if (started.ok) {
    const second = await requestFromDaemon(query, env)
    if (!isUnreachable(second)) return second
  }
  const why = started.ok ? 'it stopped right after starting' : started.error.message
  const hint = started.ok || started.error.hint === undefined ? 'see: ccred daemon run (it prints why it stops)' : started.error.hint
  warn(warningLine('WARN_DAEMON_FALLBACK', `the daemon is unavailable (${why}); fetching in this process`, hint))
  return fromThisProcess(query, env)
}
