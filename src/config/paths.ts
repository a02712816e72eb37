import { statSync } from 'node:fs'
import { hostPlatform, type Env, type Platform } from '../platform.js'

/**
 * Where ccred keeps things. XDG variables win everywhere; otherwise each OS gets
 * its usual place. Kept dependency-free: the `get` path imports this.
 */
/** %LOCALAPPDATA% (per user, not roaming): where Windows keeps a user's machine-local files. */
function windowsLocalAppData({ env, home, path }: Platform): string {
  return env.LOCALAPPDATA || path.join(home, 'AppData', 'Local')
}

function platformDir(platform: Platform, kind: 'config' | 'state' | 'data'): string {
  const { os, env, home, path } = platform
  if (os === 'darwin') {
    return kind === 'state' ? path.join(home, 'Library', 'Logs', 'ccred') : path.join(home, 'Library', 'Application Support', 'ccred')
  }
  if (os === 'win32') {
    const base = kind === 'config' ? env.APPDATA || path.join(home, 'AppData', 'Roaming') : windowsLocalAppData(platform)
    return path.join(base, 'ccred')
  }
  const fallback = { config: '.config', state: path.join('.local', 'state'), data: path.join('.local', 'share') }[kind]
  return path.join(home, fallback, 'ccred')
}

export function configDir(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  return env.XDG_CONFIG_HOME ? platform.path.join(env.XDG_CONFIG_HOME, 'ccred') : platformDir(platform, 'config')
}

export function configPath(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  return env.CCRED_CONFIG || platform.path.join(configDir(env, platform), 'config.toml')
}

/** Audit log and daemon log. */
export function stateDir(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  return env.XDG_STATE_HOME ? platform.path.join(env.XDG_STATE_HOME, 'ccred') : platformDir(platform, 'state')
}

/** The opt-in file secret store. */
export function dataDir(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  return env.XDG_DATA_HOME ? platform.path.join(env.XDG_DATA_HOME, 'ccred') : platformDir(platform, 'data')
}

/**
 * Linux's per-user runtime directory, made by systemd-logind at login: /run/user/<uid>, when it
 * is there as the user's own 0700 directory (what XDG_RUNTIME_DIR names in a login session).
 * Read from the uid, not from the environment: one stat, on the `get` path.
 */
export function loginRuntimeDir(os: NodeJS.Platform, uid: number | undefined = process.getuid?.()): string | undefined {
  if (os === 'win32' || os === 'darwin' || uid === undefined) return undefined
  const dir = `/run/user/${uid}`
  try {
    const info = statSync(dir)
    return info.isDirectory() && info.uid === uid && (info.mode & 0o777) === 0o700 ? dir : undefined
  } catch {
    return undefined
  }
}

/**
 * Private per-user directory that holds the socket, pid file and locks (like ssh-agent's).
 *
 * One per user, whatever the caller's environment: agents run helpers with a stripped one
 * (Codex's MCP http_headers_helper gets HOME, PATH, SHELL, LANG, TERM, PWD and CA variables;
 * Claude Code's project helpers lose more), and a client that looked elsewhere than the
 * shell's daemon would start a second daemon with a second cache. So the default depends on
 * the user alone (uid, home): /run/user/<uid>/ccred where logind made that directory, else
 * under the home. XDG_RUNTIME_DIR is read only as an explicit override when it names another
 * directory than /run/user/<uid>, and CCRED_RUNTIME_DIR always wins; a client that does not
 * see an override then looks in the default place (docs: troubleshooting).
 * Never at a predictable name in /tmp that another user could create first.
 */
export function runtimeDir(env: Env = process.env, platform: Platform = hostPlatform(env), userRunDir: () => string | undefined = () => loginRuntimeDir(platform.os)): string {
  const { os, home, path } = platform
  if (env.CCRED_RUNTIME_DIR) return env.CCRED_RUNTIME_DIR
  const loginDir = userRunDir()
  if (env.XDG_RUNTIME_DIR && !sameDir(path, env.XDG_RUNTIME_DIR, loginDir)) return path.join(env.XDG_RUNTIME_DIR, 'ccred')
  if (loginDir !== undefined) return path.join(loginDir, 'ccred')
  // Windows: under %LOCALAPPDATA%, whose ACL (inherited from the profile) lets in only the user, SYSTEM and administrators.
  if (os === 'win32') return path.join(windowsLocalAppData(platform), 'ccred', 'run')
  if (os === 'darwin') return path.join(home, 'Library', 'Caches', 'ccred', 'run')
  // Not XDG_CACHE_HOME: a stripped environment loses it, and the place must not move with it.
  return path.join(home, '.cache', 'ccred', 'run')
}

function sameDir(path: Platform['path'], a: string, b: string | undefined): boolean {
  return b !== undefined && path.normalize(`${a}/`) === path.normalize(`${b}/`)
}

/** The socket's name inside the runtime directory. */
export const SOCKET_NAME = 'ccred.sock'

/** The socket by its ordinary path, for messages (commands connect through the checked directory: client/transport.ts). */
export function socketPath(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  // Windows: the daemon's pipe has a random name, recorded in this file (rendezvous/windows-pipe.ts).
  if (platform.os === 'win32') return platform.path.join(runtimeDir(env, platform), RUNTIME_FILE_NAMES.pipeName)
  return platform.path.join(runtimeDir(env, platform), SOCKET_NAME)
}

/** The other files in the runtime directory, reached through the checked directory (rendezvous/runtime-dir.ts). */
export const RUNTIME_FILE_NAMES = {
  pid: 'daemon.pid',
  daemonLock: 'daemon.lock',
  spawnLock: 'spawn.lock',
  /** Windows only: the name of the daemon's named pipe (random, so no other user can create it first). */
  pipeName: 'daemon.pipe',
  /** The daemon's key for this start, which it proves knowledge of where the rendezvous is not private (rendezvous/daemon-proof.ts). */
  daemonKey: 'daemon.key',
} as const

export function auditLogPath(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  return platform.path.join(stateDir(env, platform), 'audit.log')
}

export function daemonLogPath(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  return platform.path.join(stateDir(env, platform), 'daemon.log')
}
