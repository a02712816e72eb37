import { randomBytes } from 'node:crypto'
import { chmodSync, lstatSync, unlinkSync } from 'node:fs'
import type { Server } from 'node:http'
import { serviceForEnvironment, type CredentialService } from '../service/service.js'
import { DEFAULT_BROKER } from '../config/settings.js'
import { RUNTIME_FILE_NAMES, runtimeDir, SOCKET_NAME } from '../config/paths.js'
import { CcredError } from '../errors.js'
import { hostPlatform, loginSession, type Platform } from '../platform.js'
import { packageVersion } from '../version.js'
import { createOwnedFile, isHolderAlive, isStillOwn, lockContent, readLockHolder, removeIfOwn, type OwnedFile } from '../rendezvous/owned-files.js'
import { disableCoreDumps } from '../rendezvous/core-dumps.js'
import { ensureRuntimeDir, type PinnedRuntimeDir } from '../rendezvous/runtime-dir.js'
import { RelayHost } from './relay-host.js'
import { createDaemonServer } from './server.js'
import { newPipeName, recordPipeName } from '../rendezvous/windows-pipe.js'
import { proofFor } from '../rendezvous/daemon-proof.js'

export interface RunningDaemon {
  socket: string
  /** Resolves when the daemon has stopped (signal, `daemon stop`, idle). */
  stopped: Promise<void>
  stop(): Promise<void>
}

export interface DaemonOptions {
  env: Record<string, string | undefined>
  log: (line: string) => void
  /** The platform whose rules apply (hostPlatform(env) when not given: `daemon run` is an edge). */
  platform?: Platform
}

/**
 * The lock file holds the daemon's pid and start time. It is created exclusively
 * (O_EXCL|O_NOFOLLOW): of two daemons started at once exactly one gets it. A lock
 * whose holder is dead, or whose pid now names another process, is stale.
 */
function acquireLock(path: string, displayPath: string): OwnedFile {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return createOwnedFile(path, lockContent())
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    let staleIno: number | undefined
    try {
      staleIno = lstatSync(path).ino
    } catch { continue /* removed meanwhile: try again */ }
    const holder = readLockHolder(path)
    if (holder !== undefined && holder.pid !== process.pid && isHolderAlive(holder)) throw new DaemonAlreadyRunning(holder.pid, displayPath)
    // Stale (or garbage, or a planted symlink): remove that very entry, not one a racing daemon just made.
    try {
      if (lstatSync(path).ino === staleIno) unlinkSync(path)
    } catch { /* gone */ }
  }
  throw new CcredError('ERR_DAEMON', `cannot take the daemon lock ${displayPath}`, { hint: `remove ${displayPath} if no ccred daemon is running` })
}

/** Another daemon holds the lock: for an autostarted daemon that lost the race, this is success. */
export class DaemonAlreadyRunning extends CcredError {
  constructor(readonly pid: number, readonly lockPath: string) {
    super('ERR_DAEMON', `a daemon is already running (pid ${pid}, holding ${lockPath})`, { hint: 'use it, or stop it with: ccred daemon stop' })
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path)
  } catch { /* already gone */ }
}

/** What one daemon holds in one runtime directory: the pinned directory and the files it made there. */
interface Holding {
  dir: PinnedRuntimeDir
  lock: OwnedFile
  pid?: OwnedFile
  socket?: OwnedFile
  key?: OwnedFile
}

/** Opens (creating) the runtime directory and takes the lock in it; the directory is closed again on failure. */
function takeHolding(dirPath: string, os: NodeJS.Platform): Holding {
  const dir = ensureRuntimeDir(dirPath, os)
  try {
    return { dir, lock: acquireLock(dir.file(LOCK_NAME), dir.displayFile(LOCK_NAME)) }
  } catch (error) {
    dir.close()
    throw error
  }
}

function releaseHolding(holding: Holding): void {
  removeIfOwn(holding.socket)
  removeIfOwn(holding.key)
  removeIfOwn(holding.pid)
  removeIfOwn(holding.lock)
  holding.dir.close()
}

const LOCK_NAME = RUNTIME_FILE_NAMES.daemonLock
const PID_NAME = RUNTIME_FILE_NAMES.pid
const KEY_NAME = RUNTIME_FILE_NAMES.daemonKey

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const { env, log } = options
  const platform = options.platform ?? hostPlatform(env)
  const dirPath = runtimeDir(env, platform)
  let holding = takeHolding(dirPath, platform.os)
  const onWindows = platform.os === 'win32'
  // Windows: a named pipe with a random name recorded in the directory, not a file in it (rendezvous/windows-pipe.ts).
  const pipe = onWindows ? newPipeName(env, randomBytes(16).toString('hex')) : undefined
  const socketIn = (held: Holding) => pipe ?? held.dir.file(SOCKET_NAME)
  const socket = pipe ?? holding.dir.displayFile(SOCKET_NAME)
  // Written on every OS (once per start, cheap); only Windows clients ask for the proof (rendezvous/daemon-proof.ts).
  const keyHex = randomBytes(32).toString('hex')

  let server: Server | undefined
  let service: CredentialService | undefined
  let relay: RelayHost | undefined
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
      await relay?.stop()
      await service?.close()
      if (onWindows) removeQuietly(holding.dir.file(RUNTIME_FILE_NAMES.pipeName))
      releaseHolding(holding)
      log(`ccred daemon: stopped (pid ${process.pid})`)
      resolveStopped()
    })()
    return stopping
  }

  /** Binds the socket and writes the pid file in the held directory; both are remembered by inode. */
  const serveIn = async (held: Holding): Promise<void> => {
    if (!onWindows) removeQuietly(socketIn(held)) // a stale socket from a crashed daemon; we hold the lock, so it is not live
    removeQuietly(held.dir.file(KEY_NAME)) // stale, like the pid file below
    held.key = createOwnedFile(held.dir.file(KEY_NAME), `${keyHex}\n`)
    await listenOn(server!, socketIn(held), platform.os)
    // The key is there before the record: a client that finds the pipe's name can check who serves it.
    if (pipe !== undefined) recordPipeName(held.dir.file(RUNTIME_FILE_NAMES.pipeName), pipe)
    else held.socket = ownedAs(socketIn(held))
    removeQuietly(held.dir.file(PID_NAME)) // stale, for the same reason; a planted symlink is removed, not followed
    held.pid = createOwnedFile(held.dir.file(PID_NAME), lockContent())
  }

  try {
    service = serviceForEnvironment(env, log)
    const path = service.config.path
    const config = await service.config.current().catch(() => undefined)
    const idleExitMs = config?.broker.idleExitMs ?? DEFAULT_BROKER.idleExitMs
    const armIdle = () => {
      clearTimeout(idleTimer)
      idleTimer = setTimeout(async () => {
        // Open relay routes are in use even when no request comes over the socket.
        if (await relay?.active()) return armIdle()
        log(`ccred daemon: idle for ${Math.round(idleExitMs / 60_000)} min, exiting`)
        void stop()
      }, idleExitMs)
      idleTimer.unref()
    }
    const info = { pid: process.pid, version: packageVersion(), startedAt: new Date().toISOString(), socket, configPath: path, session: loginSession(process.env) }
    relay = new RelayHost(service, env, log)
    server = createDaemonServer(service, { info, onRequest: armIdle, onShutdown: () => void stop(), prove: (challenge) => proofFor(keyHex, challenge), relay })
    await serveIn(holding)
    armIdle()
    // Someone deleted the socket (a tmp cleaner, rm -rf of the runtime dir): clients would
    // see no daemon. This daemon takes the lock again in the (re-created) directory and
    // listens there, unless another daemon got there first: then it leaves, touching none
    // of that daemon's files. A socket that is not ours at our path means the same.
    socketWatch = setInterval(() => {
      if (stopping !== undefined || relistening || onWindows) return
      if (holding.socket !== undefined && isStillOwn({ ...holding.socket, path: socket })) return
      relistening = true
      void (async () => {
        let socketThere = false
        try { lstatSync(socket); socketThere = true } catch { /* gone */ }
        if (socketThere) {
          log(`ccred daemon: ${socket} now belongs to another daemon; exiting`)
          return stop()
        }
        log(`ccred daemon: socket ${socket} was removed; listening again (after taking the lock again)`)
        server!.close()
        releaseHolding(holding)
        try {
          holding = takeHolding(dirPath, platform.os)
          await serveIn(holding)
        } catch (error) {
          log(`ccred daemon: cannot listen again (${(error as Error).message}); exiting`)
          return stop()
        }
      })().finally(() => { relistening = false })
    }, SOCKET_WATCH_INTERVAL_MS)
    socketWatch.unref()
    log(`ccred daemon: listening on ${socket} (pid ${process.pid}, config ${path})`)
    return { socket, stopped, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

function ownedAs(path: string): OwnedFile {
  const info = lstatSync(path)
  return { path, dev: info.dev, ino: info.ino }
}

/** How often the daemon checks that its socket file still exists. */
const SOCKET_WATCH_INTERVAL_MS = 1_000

async function listenOn(server: Server, socket: string, os: NodeJS.Platform): Promise<void> {
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
  if (os !== 'win32') chmodSync(socket, 0o600)
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
