import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { posix, win32, type PlatformPath } from 'node:path'

/**
 * The platform ccred runs on, as a value: which OS rules apply, which path
 * flavour, where home is, and the environment. The edges (the CLI entry through
 * Io.platform, `daemon run`) read the real one (hostPlatform); the rules take a
 * Platform (or its os) as a parameter, so the macOS and Windows rules are
 * unit-tested on Linux by passing platformFor('darwin' | 'win32', env). Where a
 * parameter still defaults to hostPlatform(), it is for callers on the `get` path
 * and in sources that have no Io to carry one yet. Light on purpose: the `get` path imports it.
 */
export type Env = Record<string, string | undefined>

export interface Platform {
  /** 'linux', 'darwin', 'win32' get their own rules; any other Unix is treated like Linux. */
  readonly os: NodeJS.Platform
  /** node:path for that OS (win32 joins with backslashes even when tested on Linux). */
  readonly path: PlatformPath
  /** The user's home: %USERPROFILE% on Windows, $HOME elsewhere. */
  readonly home: string
  readonly env: Env
}

export function platformFor(os: NodeJS.Platform, env: Env, fallbackHome: () => string = homedir): Platform {
  const windows = os === 'win32'
  const home = windows
    ? env.USERPROFILE || (env.HOMEDRIVE && env.HOMEPATH ? env.HOMEDRIVE + env.HOMEPATH : '') || fallbackHome()
    : env.HOME || fallbackHome()
  return { os, path: windows ? win32 : posix, home, env }
}

/**
 * The OS this process runs on. The one place ccred reads process.platform (a unit
 * test checks): for facts about the running kernel (/proc, core limits) and as the
 * default at the edges.
 */
export const HOST_OS: NodeJS.Platform = process.platform

/** The real platform: for the edges only (CLI entry, daemon start, defaults kept for callers not yet passing one). */
export function hostPlatform(env: Env = process.env): Platform {
  return platformFor(HOST_OS, env)
}

/**
 * The longest Unix socket path the kernel takes (sun_path, including its NUL):
 * 104 bytes on macOS and the BSDs, 108 on Linux. Named pipes on Windows have no such limit that matters here.
 */
export function socketPathMaxBytes(os: NodeJS.Platform): number | undefined {
  if (os === 'win32') return undefined
  return os === 'linux' ? 108 : 104
}

/**
 * A node path that survives a version switch or upgrade, for the helper line and the
 * service files: the version manager's own stable entry instead of the versioned binary
 * it switches away from (and may delete). Used when that entry exists; otherwise the
 * path is kept as it is and `doctor` says to re-run setup when it is gone
 * (docs/platforms.md has the table of what each manager keeps stable).
 * - Homebrew: <prefix>/Cellar/<formula>/<version>/bin/node → <prefix>/bin/node, or
 *   <prefix>/opt/node@N/bin/node for a keg-only node@N (`brew upgrade` deletes the Cellar version).
 * - fnm: …/fnm/node-versions/<v>/installation/(bin/)node → …/fnm/aliases/default/(bin/)node
 *   (follows `fnm default`).
 * - Volta: <VOLTA_HOME>/tools/image/node/<v>/(bin/)node → <VOLTA_HOME>/bin/node(.exe), the shim.
 * - asdf: <data>/installs/nodejs/<v>/bin/node → <data>/shims/node; mise: <data>/installs/node/<v>/bin/node
 *   → <data>/shims/node (shims pick the version per directory, as the user's shell does).
 * - nvm-windows: <NVM_HOME>\v<x.y.z>\node.exe → %NVM_SYMLINK%\node.exe (the link `nvm use` moves).
 * - nvm (Linux, macOS) keeps no stable node binary; MacPorts' /opt/local/bin/node and the
 *   Node installers' paths are stable already: kept.
 */
export function stableNodePath(nodePath: string, exists: (path: string) => boolean = existsSync, platform?: Pick<Platform, 'os' | 'env'>): string {
  const windows = platform?.os === 'win32'
  const sep = windows ? '\\' : '/'
  const candidates = stableNodeCandidates(nodePath, windows, platform?.env ?? {})
  return candidates.map((candidate) => candidate.split('/').join(sep)).find((candidate) => exists(candidate)) ?? nodePath
}

function stableNodeCandidates(nodePath: string, windows: boolean, env: Env): string[] {
  // Windows paths are matched with either separator; the result is written back with backslashes.
  const path = windows ? nodePath.split('\\').join('/') : nodePath
  const exe = windows ? 'node.exe' : 'node'
  const bin = windows ? '' : 'bin/'
  const cellar = /^(.*)\/Cellar\/(node(?:@\d+)?)\/[^/]+\/bin\/node$/.exec(path)
  if (cellar !== null) {
    const [, prefix, formula] = cellar as unknown as [string, string, string]
    return formula === 'node' ? [`${prefix}/bin/node`, `${prefix}/opt/node/bin/node`] : [`${prefix}/opt/${formula}/bin/node`]
  }
  const fnm = /^(.*\/fnm)\/node-versions\/[^/]+\/installation\/(?:bin\/)?node(?:\.exe)?$/i.exec(path)
  if (fnm !== null) return [`${fnm[1]}/aliases/default/${bin}${exe}`]
  const volta = /^(.*)\/tools\/image\/node\/[^/]+\/(?:bin\/)?node(?:\.exe)?$/i.exec(path)
  if (volta !== null) return [`${volta[1]}/bin/${exe}`]
  const asdfOrMise = /^(.*)\/installs\/(?:nodejs|node)\/[^/]+\/bin\/node$/.exec(path)
  if (asdfOrMise !== null && !windows) return [`${asdfOrMise[1]}/shims/node`]
  if (windows && env.NVM_HOME !== undefined) {
    const nvmHome = env.NVM_HOME.split('\\').join('/').replace(/\/$/, '')
    if (new RegExp(`^${escapeRegExp(nvmHome)}/v\\d+\\.\\d+\\.\\d+/node\\.exe$`, 'i').test(path)) {
      return [`${(env.NVM_SYMLINK || 'C:/Program Files/nodejs').split('\\').join('/')}/node.exe`]
    }
  }
  return []
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The kind of login a process runs in, as far as the keychain cares: over SSH macOS
 * shows no keychain dialog and a locked login keychain answers -25308 until
 * `security unlock-keychain` is run in that session; a daemon started there keeps that
 * access for every later request, the desktop's too. `status` says which one started
 * the daemon; `doctor` says what this session can and cannot do.
 */
export type LoginSession = 'ssh' | 'local'

export function loginSession(env: Env): LoginSession {
  return env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY ? 'ssh' : 'local'
}

/** What an SSH session means for the keychain on this OS; undefined where it changes nothing ccred knows of. */
export function sshSessionNote(os: NodeJS.Platform): string | undefined {
  if (os === 'darwin') return 'over SSH the keychain shows no dialog and answers only once unlocked (`security unlock-keychain ~/Library/Keychains/login.keychain-db`); env:, file: and the file store work as usual; a daemon started here serves your desktop session with this access (run `ccred daemon stop` from the desktop to restart it there)'
  if (os === 'linux') return 'over SSH the Secret Service needs a session bus and an unlocked keyring in this session; env:, file: and the file store work as usual'
  return undefined
}
