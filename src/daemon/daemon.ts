import { chmodSync, existsSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { serviceForEnvironment, type CredentialService } from '../broker/service.js'
import { DEFAULT_BROKER } from '../config/settings.js'
import { runtimeDir, runtimeFiles, socketPath } from '../config/paths.js'
import { CcredError } from '../errors.js'
import { packageVersion } from '../version.js'
import { isProcessAlive } from './process-alive.js'
import { disableCoreDumps } from './core-dumps.js'
import { ensurePrivateDir } from './runtime-dir.js'
import { createDaemonServer } from './server.js'

export interface RunningDaemon {
  socket: string
  /** Resolves when the daemon has stopped (signal, `daemon stop`, idle). */
  stopped: Promise<void>
  stop(): Promise<void>
}

export interface DaemonOptions {
  env: Record<string, string | undefined>
  log: (line: string) => void
}

/**
 * The lock file holds the daemon's pid. It is written to a temporary name and
 * hard-linked into place, which fails if the lock exists: of two daemons started
 * at once exactly one gets it, and nobody ever reads a half-written lock. A lock
 * whose pid is dead is stale.
 */
function acquireLock(path: string): void {
  const temp = `${path}.${process.pid}`
  writeFileSync(temp, `${process.pid}\n`, { mode: 0o600 })
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temp, path)
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      let holder = Number.NaN
      try {
        holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
      } catch { /* removed meanwhile: try again */ }
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isProcessAlive(holder)) {
        throw new DaemonAlreadyRunning(holder)
      }
      removeQuietly(path)
    }
  } finally {
    removeQuietly(temp)
  }
  throw new CcredError('ERR_DAEMON', `cannot take the daemon lock ${path}`, { hint: `remove ${path} if no ccred daemon is running` })
}

/** Another daemon holds the lock: for an autostarted daemon that lost the race, this is success. */
export class DaemonAlreadyRunning extends CcredError {
  constructor(readonly pid: number) {
    super('ERR_DAEMON', `a daemon is already running (pid ${pid})`, { hint: 'use it, or stop it with: ccred daemon stop' })
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path)
  } catch { /* already gone */ }
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const { env, log } = options
  const dir = runtimeDir(env)
  ensurePrivateDir(dir)
  const lockPath = runtimeFiles.daemonLock(env)
  acquireLock(lockPath)
  const socket = socketPath(env)
  const pidPath = runtimeFiles.pid(env)

  let server: Server | undefined
  let service: CredentialService | undefined
  let idleTimer: NodeJS.Timeout | undefined
  let socketWatch: NodeJS.Timeout | undefined
  let relistening = false
  let resolveStopped!: () => void
  const stopped = new Promise<void>((resolve) => { resolveStopped = resolve })
  let stopping: Promise<void> | undefined

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearTimeout(idleTimer)
      clearInterval(socketWatch)
      await new Promise<void>((resolve) => {
        if (server === undefined) return resolve()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await service?.close()
      removeQuietly(socket)
      removeQuietly(pidPath)
      removeQuietly(lockPath)
      log(`ccred daemon: stopped (pid ${process.pid})`)
      resolveStopped()
    })()
    return stopping
  }

  try {
    service = serviceForEnvironment(env)
    const path = service.config.path
    const config = await service.config.current().catch(() => undefined)
    const idleExitMs = config?.broker.idleExitMs ?? DEFAULT_BROKER.idleExitMs
    const armIdle = () => {
      clearTimeout(idleTimer)
      idleTimer = setTimeout(() => {
        log(`ccred daemon: idle for ${Math.round(idleExitMs / 60_000)} min, exiting`)
        void stop()
      }, idleExitMs)
      idleTimer.unref()
    }
    const info = { pid: process.pid, version: packageVersion(), startedAt: new Date().toISOString(), socket, configPath: path }
    server = createDaemonServer(service, { info, onRequest: armIdle, onShutdown: () => void stop() })
    removeQuietly(socket) // a stale socket from a crashed daemon; we hold the lock, so it is not live
    await listenOn(server, socket)
    writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o600 })
    armIdle()
    // Someone deleted the socket file (a tmp cleaner, rm -rf of the runtime dir): clients
    // would see no daemon, and a new one cannot start while this one holds the lock. So
    // this daemon notices and listens again, rather than lingering unreachable.
    socketWatch = setInterval(() => {
      if (stopping !== undefined || relistening || existsSync(socket)) return
      relistening = true
      log(`ccred daemon: socket ${socket} was removed; listening again`)
      server!.close()
      try {
        ensurePrivateDir(dir)
      } catch { /* listenOn reports it */ }
      listenOn(server!, socket).catch((error: unknown) => {
        log(`ccred daemon: cannot listen again (${(error as Error).message}); exiting`)
        void stop()
      }).finally(() => { relistening = false })
    }, SOCKET_WATCH_INTERVAL_MS)
    socketWatch.unref()
    log(`ccred daemon: listening on ${socket} (pid ${process.pid}, config ${path})`)
    return { socket, stopped, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/** How often the daemon checks that its socket file still exists. */
const SOCKET_WATCH_INTERVAL_MS = 1_000

async function listenOn(server: Server, socket: string): Promise<void> {
  // umask makes the socket 0600 from the moment it exists, not after a chmod race.
  const previousUmask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socket, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } finally {
    process.umask(previousUmask)
  }
  if (process.platform !== 'win32') chmodSync(socket, 0o600)
}

/** `ccred daemon run`: foreground until a signal or `ccred daemon stop`. */
export async function runDaemonForeground(options: DaemonOptions): Promise<void> {
  const coreProblem = disableCoreDumps()
  if (coreProblem !== undefined) options.log(`ccred daemon: ${coreProblem}`)
  const daemon = await startDaemon(options)
  const onSignal = (signal: NodeJS.Signals) => {
    options.log(`ccred daemon: ${signal} received`)
    void daemon.stop()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  // SIGHUP conventionally means "reload"; the config is re-read on change anyway.
  process.on('SIGHUP', () => options.log('ccred daemon: SIGHUP ignored (config reloads by itself when the file changes)'))
  await daemon.stopped
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
}
