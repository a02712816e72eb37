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
 * Private per-user directory that holds the socket, pid file and locks (like ssh-agent's).
 * Without XDG_RUNTIME_DIR it lives under the user's home, not at a predictable name in
 * /tmp that another user could create first (and so deny or hijack the daemon).
 */
export function runtimeDir(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  const { os, home, path } = platform
  if (env.CCRED_RUNTIME_DIR) return env.CCRED_RUNTIME_DIR
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'ccred')
  if (os === 'darwin') return path.join(home, 'Library', 'Caches', 'ccred', 'run')
  // Windows: under %LOCALAPPDATA%, whose ACL (inherited from the profile) lets in only the user, SYSTEM and administrators.
  if (os === 'win32') return path.join(windowsLocalAppData(platform), 'ccred', 'run')
  return path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'ccred', 'run')
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
} as const

export function auditLogPath(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  return platform.path.join(stateDir(env, platform), 'audit.log')
}

export function daemonLogPath(env: Env = process.env, platform: Platform = hostPlatform(env)): string {
  return platform.path.join(stateDir(env, platform), 'daemon.log')
}
