import { isatty } from 'node:tty'
import { configPath, runtimeDir, socketPath } from '../config/paths.js'
import type { Header } from '../config/load.js'
import { checkPrivateDir } from '../daemon/runtime-dir.js'
import type { IssuedCredential } from '../output/format.js'
import { DaemonNotRunning, requestDaemon, unwrap } from './transport.js'

export interface CredentialQuery {
  profile: string
  callerTtlMs: number
  forceRefresh: boolean
  header?: Header
}

type Env = Record<string, string | undefined>

function processStartedAtMs(): number {
  return Math.round(Date.now() - process.uptime() * 1000)
}

async function fromDaemon(socket: string, query: CredentialQuery, env: Env): Promise<IssuedCredential> {
  const response = await requestDaemon(socket, 'POST', '/v1/credential', {
    profile: query.profile,
    callerTtlMs: query.callerTtlMs,
    refresh: query.forceRefresh,
    clientPid: process.pid,
    clientParentPid: process.ppid,
    clientStartedAtMs: processStartedAtMs(),
    interactive: isatty(0),
    configPath: configPath(env),
    ...(query.header === undefined ? {} : { header: query.header }),
  })
  return unwrap<IssuedCredential>(response)
}

async function fromThisProcess(query: CredentialQuery, env: Env): Promise<IssuedCredential> {
  const { inProcessService } = await import('./in-process.js')
  const service = await inProcessService(env)
  try {
    return await service.get({ ...query, clientPid: process.pid, interactive: isatty(0) })
  } finally {
    await service.close()
  }
}

/**
 * Asks the daemon; starts it when it is not running (and retries once); fetches
 * in this process when the daemon cannot run or CCRED_NO_DAEMON=1. `warn` gets
 * one line for stderr when it falls back.
 */
export async function requestCredential(query: CredentialQuery, env: Env, warn: (line: string) => void): Promise<IssuedCredential> {
  if (env.CCRED_NO_DAEMON === '1') return fromThisProcess(query, env)
  const dirProblem = checkPrivateDir(runtimeDir(env))
  if (dirProblem !== undefined) {
    warn(`ccred: not using the daemon: ${dirProblem.message} (${dirProblem.hint}); fetching in this process`)
    return fromThisProcess(query, env)
  }
  const socket = socketPath(env)
  try {
    return await fromDaemon(socket, query, env)
  } catch (error) {
    if (!(error instanceof DaemonNotRunning)) throw error
  }
  // Loaded only when needed: child_process costs the warm path several milliseconds.
  const { startDaemonInBackground } = await import('./autostart.js')
  const started = await startDaemonInBackground(env)
  if (started.ok) {
    try {
      return await fromDaemon(socket, query, env)
    } catch (error) {
      if (!(error instanceof DaemonNotRunning)) throw error
    }
  }
  const why = started.ok ? 'it stopped right after starting' : `${started.error.message}; ${started.error.hint ?? ''}`
  warn(`ccred: the daemon is unavailable (${why}); fetching in this process`)
  return fromThisProcess(query, env)
}
