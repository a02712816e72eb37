import { homedir } from 'node:os'
import { join } from 'node:path'

/**
 * Where ccred keeps things. XDG variables win everywhere; otherwise each OS gets
 * its usual place. Kept dependency-free: the `get` path imports this.
 */
type Env = Record<string, string | undefined>

function home(env: Env): string {
  return env.HOME || homedir()
}

function platformDir(env: Env, kind: 'config' | 'state' | 'data'): string {
  if (process.platform === 'darwin') {
    return kind === 'state' ? join(home(env), 'Library', 'Logs', 'ccred') : join(home(env), 'Library', 'Application Support', 'ccred')
  }
  if (process.platform === 'win32') {
    const base = kind === 'config' ? env.APPDATA : env.LOCALAPPDATA
    return join(base || join(home(env), 'AppData', kind === 'config' ? 'Roaming' : 'Local'), 'ccred')
  }
  const fallback = { config: '.config', state: join('.local', 'state'), data: join('.local', 'share') }[kind]
  return join(home(env), fallback, 'ccred')
}

export function configDir(env: Env = process.env): string {
  return env.XDG_CONFIG_HOME ? join(env.XDG_CONFIG_HOME, 'ccred') : platformDir(env, 'config')
}

export function configPath(env: Env = process.env): string {
  return env.CCRED_CONFIG || join(configDir(env), 'config.toml')
}

/** Audit log and daemon log. */
export function stateDir(env: Env = process.env): string {
  return env.XDG_STATE_HOME ? join(env.XDG_STATE_HOME, 'ccred') : platformDir(env, 'state')
}

/** The opt-in file secret store. */
export function dataDir(env: Env = process.env): string {
  return env.XDG_DATA_HOME ? join(env.XDG_DATA_HOME, 'ccred') : platformDir(env, 'data')
}

/**
 * Private per-user directory that holds the socket, pid file and locks (like ssh-agent's).
 * Without XDG_RUNTIME_DIR it lives under the user's home, not at a predictable name in
 * /tmp that another user could create first (and so deny or hijack the daemon).
 */
export function runtimeDir(env: Env = process.env): string {
  if (env.CCRED_RUNTIME_DIR) return env.CCRED_RUNTIME_DIR
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'ccred')
  if (process.platform === 'darwin') return join(home(env), 'Library', 'Caches', 'ccred', 'run')
  return join(env.XDG_CACHE_HOME || join(home(env), '.cache'), 'ccred', 'run')
}

/** The socket's name inside the runtime directory. */
export const SOCKET_NAME = 'ccred.sock'

/** The socket by its ordinary path, for messages (commands connect through the checked directory: client/transport.ts). */
export function socketPath(env: Env = process.env): string {
  if (process.platform === 'win32') {
    const user = (env.USERNAME || 'user').replace(/[^A-Za-z0-9_.-]/g, '_')
    return `\\\\.\\pipe\\ccred-${user}`
  }
  return join(runtimeDir(env), SOCKET_NAME)
}

/** The other files in the runtime directory, reached through the checked directory (daemon/runtime-dir.ts). */
export const RUNTIME_FILE_NAMES = {
  pid: 'daemon.pid',
  daemonLock: 'daemon.lock',
  spawnLock: 'spawn.lock',
} as const

export function auditLogPath(env: Env = process.env): string {
  return join(stateDir(env), 'audit.log')
}

export function daemonLogPath(env: Env = process.env): string {
  return join(stateDir(env), 'daemon.log')
}
