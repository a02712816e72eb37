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
 * Homebrew installs node at <prefix>/Cellar/<formula>/<version>/bin/node and
 * `brew upgrade` deletes that version, so a helper or launchd agent written with it
 * breaks on the next upgrade. The stable links are <prefix>/bin/node for `node`
 * and <prefix>/opt/<formula>/bin/node for a keg-only `node@N`. Used when the link
 * exists; otherwise the path is kept as it is (and `doctor` says when it is gone).
 */
export function stableNodePath(nodePath: string, exists: (path: string) => boolean = existsSync): string {
  const cellar = /^(.*)\/Cellar\/(node(?:@\d+)?)\/[^/]+\/bin\/node$/.exec(nodePath)
  if (cellar === null) return nodePath
  const [, prefix, formula] = cellar as unknown as [string, string, string]
  const candidates = formula === 'node' ? [`${prefix}/bin/node`, `${prefix}/opt/node/bin/node`] : [`${prefix}/opt/${formula}/bin/node`]
  return candidates.find((candidate) => exists(candidate)) ?? nodePath
}
