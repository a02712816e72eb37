import { spawn, type SpawnOptions } from 'node:child_process'
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, unlinkSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { daemonLogPath, RUNTIME_FILE_NAMES, runtimeDir, stateDir } from '../config/paths.js'
import { createOwnedFile, isHolderAlive, readLockHolder, removeIfOwn, type OwnedFile } from '../rendezvous/owned-files.js'
import { ensureRuntimeDir, type PinnedRuntimeDir } from '../rendezvous/runtime-dir.js'
import { DAEMON_V8_FLAGS } from '../rendezvous/v8-flags.js'
import { CcredError } from '../errors.js'
import { hostPlatform, type Platform } from '../platform.js'
import { ROUTES, type HealthResponse } from '../protocol.js'
import { DaemonNotRunning, requestDaemon, unwrap, type Env } from './transport.js'

/**
 * How long a client waits for a daemon it did not see start (another client holds the spawn lock).
 * A daemon this client spawned and that is still alive gets up to MAX_READY_WAIT_MS: on a loaded
 * machine its first start-up takes seconds, and giving up then only adds an in-process fetch to the load.
 * Both stay under Claude Code's 10 s "taking a while" notice.
 */
const READY_TIMEOUT_MS = 5_000
const MAX_READY_WAIT_MS = 9_000
const POLL_INTERVAL_MS = 20
/** A spawn lock older than this belongs to a client that died mid-start. */
const STALE_SPAWN_LOCK_MS = 10_000

/** The bin (the esbuild bundle beside the full CLI); `daemon run` goes straight to the full CLI from there. */
const CLI_ENTRY = fileURLToPath(new URL('../../cmd/ccred.cjs', import.meta.url))

/** The variable that tells `daemon run` to append its log to a file itself (it has no stderr to inherit on Windows). */
export const DAEMON_LOG_FILE_VARIABLE = 'CCRED_DAEMON_LOG_FILE'

export interface DaemonSpawn {
  file: string
  args: string[]
  options: SpawnOptions
}

/**
 * How the daemon is started, per platform. Windows: no handle of ours is passed
 * on (stdio all 'ignore', hidden, detached). Claude Code reads the helper's
 * stdout until every holder of that pipe closes it; a daemon that inherited it
 * would keep Claude Code waiting up to its 10-minute helper timeout. So the
 * daemon opens its log itself there. Elsewhere it gets the log file as stdout and
 * stderr, and a shell sets core dumps off before it starts.
 */
export function daemonSpawn(platform: Platform, nodePath: string, nodeArgs: string[], childEnv: Env, cwd: string, logPath: string, logFd: number): DaemonSpawn {
  if (platform.os === 'win32') {
    return {
      file: nodePath,
      args: nodeArgs,
      options: { detached: true, stdio: 'ignore', windowsHide: true, env: { ...childEnv, [DAEMON_LOG_FILE_VARIABLE]: logPath } as NodeJS.ProcessEnv, cwd },
    }
  }
  // Core dumps off (they would hold secrets); `ulimit` needs a shell, paid only on autostart.
  return {
    file: '/bin/sh',
    args: ['-c', 'ulimit -c 0 2>/dev/null; exec "$0" "$@"', nodePath, ...nodeArgs],
    options: { detached: true, stdio: ['ignore', logFd, logFd], env: childEnv as NodeJS.ProcessEnv, cwd },
  }
}

export type StartResult = { ok: true; spawned: boolean } | { ok: false; error: CcredError }

/** The running daemon's facts, or undefined when none answers on the socket. */
export async function daemonHealth(env: Env, timeoutMs = 2_000): Promise<HealthResponse | undefined> {
  try {
    return unwrap<HealthResponse>(await requestDaemon(env, 'GET', ROUTES.health, undefined, timeoutMs))
  } catch (error) {
    if (error instanceof DaemonNotRunning) return undefined
    throw error
  }
}

async function isReady(env: Env): Promise<boolean> {
  return (await daemonHealth(env)) !== undefined
}

function takeSpawnLock(path: string): OwnedFile | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return createOwnedFile(path, `${process.pid}\n`)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined
      try {
        if (Date.now() - lstatSync(path).mtimeMs < STALE_SPAWN_LOCK_MS) return undefined
        unlinkSync(path)
      } catch { /* raced with its owner; try again */ }
    }
  }
  return undefined
}

/** Why no daemon answered although one was started: names the lock's holder when there is one. */
function notReadyError(dir: PinnedRuntimeDir, env: Env, waitedMs: number): CcredError {
  const holder = readLockHolder(dir.file(RUNTIME_FILE_NAMES.daemonLock))
  const lock = dir.displayFile(RUNTIME_FILE_NAMES.daemonLock)
  if (holder !== undefined && isHolderAlive(holder)) {
    return new CcredError('ERR_DAEMON', `no daemon answers, and ${lock} is held by pid ${holder.pid}, which does not answer on the socket`, { hint: `stop it (kill ${holder.pid}) if it is a stuck ccred daemon; see ${daemonLogPath(env)}` })
  }
  return new CcredError('ERR_DAEMON', `the daemon did not become ready within ${Math.round(waitedMs / 1000)}s`, { hint: `see ${daemonLogPath(env)}, or run it in the foreground: ccred daemon run` })
}

/**
 * Starts the daemon in the background and waits until it answers. Two clients
 * racing here start one daemon: the spawn lock keeps the second from spawning,
 * and the daemon's own lock settles any race that slips through.
 */
export async function startDaemonInBackground(env: Env, platform: Platform = hostPlatform(env)): Promise<StartResult> {
  let dir: PinnedRuntimeDir
  try {
    dir = ensureRuntimeDir(runtimeDir(env, platform), platform.os)
  } catch (error) {
    return { ok: false, error: error as CcredError }
  }
  try {
    return await startIn(dir, env, platform)
  } finally {
    dir.close()
  }
}

async function startIn(dir: PinnedRuntimeDir, env: Env, platform: Platform): Promise<StartResult> {
  if (await isReady(env)) return { ok: true, spawned: false }

  const spawnLock = takeSpawnLock(dir.file(RUNTIME_FILE_NAMES.spawnLock))
  const spawning = spawnLock !== undefined
  let exitedEarly: { code: number | null } | undefined
  let child: ReturnType<typeof spawn> | undefined
  try {
    if (spawning) {
      mkdirSync(stateDir(env, platform), { recursive: true, mode: 0o700 })
      const logPath = daemonLogPath(env, platform)
      const logFd = openSync(logPath, 'a', 0o600)
      const nodeArgs = [...DAEMON_V8_FLAGS, CLI_ENTRY, 'daemon', 'run']
      const childEnv = { ...env, CCRED_AUTOSTARTED: '1' } as NodeJS.ProcessEnv
      // Not the cwd of whichever command happened to start it: a daemon must not pin a project directory.
      const home = platform.home
      const cwd = existsSync(home) ? home : platform.path.parse(home).root || '/'
      const how = daemonSpawn(platform, process.execPath, nodeArgs, childEnv, cwd, logPath, logFd)
      child = spawn(how.file, how.args, how.options)
      closeSync(logFd)
      child.on('exit', (code) => { exitedEarly = { code } })
      child.on('error', () => { exitedEarly = { code: null } })
    }
    const startedAtMs = Date.now()
    const waitedLongEnough = () => {
      const waitedMs = Date.now() - startedAtMs
      const ourChildStillStarting = child !== undefined && exitedEarly === undefined
      return waitedMs >= (ourChildStillStarting ? MAX_READY_WAIT_MS : READY_TIMEOUT_MS)
    }
    while (!waitedLongEnough()) {
      if (await isReady(env)) return { ok: true, spawned: spawning }
      if (exitedEarly !== undefined && exitedEarly.code !== 0) {
        return { ok: false, error: new CcredError('ERR_DAEMON', `the daemon exited during start-up (status ${exitedEarly.code ?? 'unknown'})`, { hint: `see ${daemonLogPath(env)}, or run it in the foreground: ccred daemon run` }) }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
    }
    return { ok: false, error: notReadyError(dir, env, Date.now() - startedAtMs) }
  } finally {
    child?.unref()
    removeIfOwn(spawnLock)
  }
}
