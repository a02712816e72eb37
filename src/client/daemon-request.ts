import { isatty } from 'node:tty'
import type { Header } from '../config/settings.js'
import { configPath, runtimeDir, socketPath } from '../config/paths.js'
import { checkPrivateDir } from '../daemon/runtime-dir.js'
import type { CcredError } from '../errors.js'
import type { IssuedCredential } from '../output/format.js'
import { DaemonNotRunning, requestDaemon, unwrap } from './transport.js'

export interface CredentialQuery {
  profile: string
  callerTtlMs: number
  forceRefresh: boolean
  /** The caller says the value it holds was refused (see HelperContext.rejected). */
  rejected?: boolean
  header?: Header
}

export type Env = Record<string, string | undefined>

/** Why the daemon could not be asked; the caller decides whether to start one or fetch in-process. */
export type DaemonUnreachable = { reason: 'not-running' } | { reason: 'unsafe-dir'; error: CcredError }

export function processStartedAtMs(): number {
  return Math.round(Date.now() - process.uptime() * 1000)
}

/**
 * Asks a running daemon. Light on purpose (net and a few small modules): this
 * is the whole warm path of `ccred get`. A daemon error is thrown as the
 * CcredError it raised; an absent daemon or an unsafe runtime directory is
 * returned, not thrown.
 */
export async function requestFromDaemon(query: CredentialQuery, env: Env): Promise<IssuedCredential | DaemonUnreachable> {
  const dirProblem = checkPrivateDir(runtimeDir(env))
  if (dirProblem !== undefined) return { reason: 'unsafe-dir', error: dirProblem }
  try {
    const response = await requestDaemon(socketPath(env), 'POST', '/v1/credential', {
      profile: query.profile,
      callerTtlMs: query.callerTtlMs,
      refresh: query.forceRefresh,
      ...(query.rejected === undefined ? {} : { rejected: query.rejected }),
      clientPid: process.pid,
      clientParentPid: process.ppid,
      clientStartedAtMs: processStartedAtMs(),
      interactive: isatty(0),
      configPath: configPath(env),
      ...(query.header === undefined ? {} : { header: query.header }),
    })
    return unwrap<IssuedCredential>(response)
  } catch (error) {
    if (error instanceof DaemonNotRunning) return { reason: 'not-running' }
    throw error
  }
}

export function isUnreachable(result: IssuedCredential | DaemonUnreachable): result is DaemonUnreachable {
  return 'reason' in result
}
