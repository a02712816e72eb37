import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs'
import { homedir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { daemonLogPath, runtimeDir, runtimeFiles, socketPath, stateDir } from '../config/paths.js'
import { ensurePrivateDir } from '../daemon/runtime-dir.js'
import { CcredError } from '../errors.js'
import type { DaemonInfo } from '../daemon/server.js'
import { DaemonNotRunning, requestDaemon, unwrap } from './transport.js'

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

export type StartResult = { ok: true; spawned: boolean } | { ok: false; error: CcredError }

/** The running daemon's facts, or undefined when none answers on the socket. */
export async function daemonHealth(socket: string, timeoutMs = 2_000): Promise<DaemonInfo | undefined> {
  try {
    return unwrap<DaemonInfo>(await requestDaemon(socket, 'GET', '/v1/health', undefined, timeoutMs))
  } catch (error) {
    if (error instanceof DaemonNotRunning) return undefined
    throw error
  }
}

async function isReady(socket: string): Promise<boolean> {
  return (await daemonHealth(socket)) !== undefined
}

function takeSpawnLock(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      closeSync(openSync(path, 'wx', 0o600))
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false
      try {
        if (Date.now() - statSync(path).mtimeMs < STALE_SPAWN_LOCK_MS) return false
        unlinkSync(path)
      } catch { /* raced with its owner; try again */ }
    }
  }
  return false
}

/**
 * V8's young generation grows to 3 × 16 MiB under a burst of requests and stays
 * that size: 200 concurrent clients left the daemon at 90+ MiB RSS (bench/load.ts),
 * over the 80 MiB budget. Semi-spaces of 1 MiB hold it under (70–78 MiB, of which
 * ~41 MiB is node's own mapped binary) at no measurable cost in req/s: the daemon's
 * garbage is short-lived request objects, which a small young generation collects cheaply.
 */
export const DAEMON_V8_FLAGS = ['--max-semi-space-size=1']

/**
 * Starts the daemon in the background and waits until it answers. Two clients
 * racing here start one daemon: the spawn lock keeps the second from spawning,
 * and the daemon's own lock settles any race that slips through.
 */
export async function startDaemonInBackground(env: Record<string, string | undefined>): Promise<StartResult> {
  const socket = socketPath(env)
  try {
    ensurePrivateDir(runtimeDir(env))
  } catch (error) {
    return { ok: false, error: error as CcredError }
  }
  if (await isReady(socket)) return { ok: true, spawned: false }

  const spawnLock = runtimeFiles.spawnLock(env)
  const spawning = takeSpawnLock(spawnLock)
  let exitedEarly: { code: number | null } | undefined
  let child: ReturnType<typeof spawn> | undefined
  try {
    if (spawning) {
      mkdirSync(stateDir(env), { recursive: true, mode: 0o700 })
      const logPath = daemonLogPath(env)
      const logFd = openSync(logPath, 'a', 0o600)
      const nodeArgs = [...DAEMON_V8_FLAGS, CLI_ENTRY, 'daemon', 'run']
      const childEnv = { ...env, CCRED_AUTOSTARTED: '1' } as NodeJS.ProcessEnv
      // Not the cwd of whichever command happened to start it: a daemon must not pin a project directory.
      const home = env.HOME || homedir()
      const cwd = existsSync(home) ? home : '/'
      // Core dumps off (they would hold secrets); `ulimit` needs a shell, paid only on autostart.
      child = process.platform === 'win32'
        ? spawn(process.execPath, nodeArgs, { detached: true, stdio: ['ignore', logFd, logFd], env: childEnv, cwd, windowsHide: true })
        : spawn('/bin/sh', ['-c', 'ulimit -c 0 2>/dev/null; exec "$0" "$@"', process.execPath, ...nodeArgs], { detached: true, stdio: ['ignore', logFd, logFd], env: childEnv, cwd })
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
      if (await isReady(socket)) return { ok: true, spawned: spawning }
      if (exitedEarly !== undefined && exitedEarly.code !== 0) {
        return { ok: false, error: new CcredError('ERR_DAEMON', `the daemon exited during start-up (status ${exitedEarly.code ?? 'unknown'})`, { hint: `see ${daemonLogPath(env)}, or run it in the foreground: ccred daemon run` }) }
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS))
    }
    return { ok: false, error: new CcredError('ERR_DAEMON', `the daemon did not become ready within ${Math.round((Date.now() - startedAtMs) / 1000)}s`, { hint: `see ${daemonLogPath(env)}, or run it in the foreground: ccred daemon run` }) }
  } finally {
    child?.unref()
    if (spawning) {
      try { unlinkSync(spawnLock) } catch { /* gone */ }
    }
  }
}
