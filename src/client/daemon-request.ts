import { isatty } from 'node:tty'
import { gatherMarks } from '../callers/registry.js'
import { configPath } from '../config/paths.js'
import { isUnsafeRuntimeDir } from '../rendezvous/runtime-dir.js'
import type { CcredError } from '../errors.js'
import { ROUTES, type CredentialRequest, type IssuedCredential } from '../protocol.js'
import { DaemonNotRunning, requestDaemon, unwrap } from './transport.js'

/** What a command asks for; the client adds the facts about itself (clientFacts). */
export type CredentialQuery = Pick<CredentialRequest, 'profile' | 'callerTtlMs' | 'forceRefresh' | 'rejected' | 'headerSet'>

export type Env = Record<string, string | undefined>

/** Why the daemon could not be asked; the caller decides whether to start one or fetch in-process. */
export type DaemonUnreachable = { reason: 'not-running' } | { reason: 'unsafe-dir'; error: CcredError }

export function processStartedAtMs(): number {
  return Math.round(Date.now() - process.uptime() * 1000)
}

/**
 * The request as this process sends it, to the daemon or to the in-process
 * service alike: the query plus who is asking (pids, start time, a terminal or
 * not, and the environment marks the caller kinds declare: src/callers/).
 */
export function withClientFacts(query: CredentialQuery, env: Env): CredentialRequest {
  return {
    ...query,
    clientPid: process.pid,
    clientParentPid: process.ppid,
    clientStartedAtMs: processStartedAtMs(),
    interactive: isatty(0),
    callerMarks: gatherMarks(env),
  }
}

/**
 * Asks a running daemon. Light on purpose (net and a few small modules): this
 * is the whole warm path of `ccred get`. A daemon error is thrown as the
 * CcredError it raised; an absent daemon or an unsafe runtime directory is
 * returned, not thrown.
 */
export async function requestFromDaemon(query: CredentialQuery, env: Env): Promise<IssuedCredential | DaemonUnreachable> {
  try {
    const request: CredentialRequest = { ...withClientFacts(query, env), configPath: configPath(env) }
    return unwrap<IssuedCredential>(await requestDaemon(env, 'POST', ROUTES.credential, request))
  } catch (error) {
    if (error instanceof DaemonNotRunning) return { reason: 'not-running' }
    if (isUnsafeRuntimeDir(error)) return { reason: 'unsafe-dir', error }
    throw error
  }
}

export function isUnreachable(result: IssuedCredential | DaemonUnreachable): result is DaemonUnreachable {
  return 'reason' in result
}
