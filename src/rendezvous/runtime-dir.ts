import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, realpathSync, statSync, type Stats } from 'node:fs'
import { dirname, sep } from 'node:path'
import { CcredError } from '../errors.js'
import { hostPlatform, socketPathMaxBytes } from '../platform.js'
import { SOCKET_NAME } from '../config/paths.js'

/**
 * The socket lives in a private directory, as ssh-agent's does: owned by the
 * user, mode 0700, and reached through parents nobody else can change (each owned
 * by root or the user, not writable by group or others unless sticky — OpenSSH's
 * secure_filename rule). Anything else could let another user plant a socket of
 * their own or swap the directory, so it is refused rather than repaired.
 *
 * Checking a path and then using it by name leaves a window: the directory could
 * be exchanged in between. So the checked directory is pinned: opened once with
 * O_NOFOLLOW, checked through that handle, and every socket, lock and pid file is
 * reached through the handle (/proc/self/fd/N/name on Linux). Light on purpose:
 * the `get` warm path calls this on every run.
 */
export interface PinnedRuntimeDir {
  /** The directory as configured, for messages. */
  readonly path: string
  /** How to reach `name` inside the checked directory; through the handle where the platform allows. */
  file(name: string): string
  /** The same file by its ordinary name, for messages and for other processes. */
  displayFile(name: string): string
  close(): void
}

/** The directory does not exist yet: nobody runs a daemon in it. */
export class RuntimeDirMissing extends Error {}

const OPEN_DIR_FLAGS = constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | (constants.O_NOFOLLOW ?? 0)

let procFdUsable: boolean | undefined
function canReachThroughProcFd(os: NodeJS.Platform): boolean {
  procFdUsable ??= os === 'linux' && existsSync('/proc/self/fd')
  return procFdUsable
}

/** The runtime directory (or a parent) could let another user in: nothing is sent or bound there. */
export class UnsafeRuntimeDir extends CcredError {
  constructor(readonly dir: string, why: string, hint: string) {
    super('ERR_DAEMON', `runtime directory ${dir} ${why}; refusing to use it`, { hint })
  }
}

export function isUnsafeRuntimeDir(error: unknown): error is UnsafeRuntimeDir {
  return error instanceof UnsafeRuntimeDir
}

function unsafeDir(dir: string, why: string, hint: string): UnsafeRuntimeDir {
  return new UnsafeRuntimeDir(dir, why, hint)
}

function myUid(fallback: number): number {
  return process.getuid?.() ?? fallback
}

/** The private directory itself: a directory (not a link), the user's, 0700. */
function checkOwnDir(dir: string, info: Stats): CcredError | undefined {
  const uid = myUid(info.uid)
  if (!info.isDirectory()) return unsafeDir(dir, 'is not a plain directory', `remove ${dir} (ccred recreates it), or set CCRED_RUNTIME_DIR`)
  if (info.uid !== uid) return unsafeDir(dir, `belongs to uid ${info.uid}, not to you (uid ${uid})`, `remove ${dir}, or set CCRED_RUNTIME_DIR to a directory you own`)
  if ((info.mode & 0o077) !== 0) return unsafeDir(dir, `is accessible to other users (mode ${(info.mode & 0o777).toString(8)})`, `run: chmod 700 ${dir}`)
  return undefined
}

/**
 * Every directory above `dir` (its real path): owned by root or the user, and
 * not writable by group or others unless sticky (/tmp), so nobody else can
 * rename or replace what lies below it.
 */
export function checkParentChain(dir: string, from = dirname(dir)): CcredError | undefined {
  let real: string
  try {
    real = realpathSync.native(from)
  } catch (error) {
    return unsafeDir(dir, `cannot be checked (${(error as NodeJS.ErrnoException).code ?? 'error'} on its parent)`, `check ${dirname(dir)}, or set CCRED_RUNTIME_DIR to a private directory`)
  }
  const uid = myUid(0)
  for (let current = real; ; current = dirname(current)) {
    let info: Stats
    try {
      info = statSync(current)
    } catch (error) {
      return unsafeDir(dir, `cannot be checked (${(error as NodeJS.ErrnoException).code ?? 'error'} on ${current})`, `check ${current}`)
    }
    if (info.uid !== 0 && info.uid !== uid) {
      return unsafeDir(dir, `lies inside ${current}, which belongs to uid ${info.uid}`, `set CCRED_RUNTIME_DIR (or XDG_RUNTIME_DIR) to a directory under one you own`)
    }
    if ((info.mode & 0o022) !== 0 && (info.mode & 0o1000) === 0) {
      return unsafeDir(dir, `lies inside ${current}, which other users can write (mode ${(info.mode & 0o777).toString(8)})`, `run: chmod go-w ${current}   (or point CCRED_RUNTIME_DIR elsewhere)`)
    }
    if (current === dirname(current) || current === sep) return undefined
  }
}

/** Opens and checks the runtime directory; throws RuntimeDirMissing when it does not exist, a CcredError when it is unsafe. */
export function openRuntimeDir(dir: string, os: NodeJS.Platform = hostPlatform().os): PinnedRuntimeDir {
  // Windows: no uid or mode bits to check; the directory's ACL is inherited from %LOCALAPPDATA% (docs/platforms.md).
  if (os === 'win32') {
    if (!existsSync(dir)) throw new RuntimeDirMissing(dir)
    return unpinned(dir)
  }
  let fd: number
  try {
    fd = openSync(dir, OPEN_DIR_FLAGS)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      // No directory yet is "no daemon", unless where it would be is unsafe: then the
      // command must say so, not "not running; get starts it" (get would refuse to).
      throw checkParentChainOfMissing(dir) ?? new RuntimeDirMissing(dir)
    }
    if (code === 'ELOOP' || code === 'ENOTDIR') throw unsafeDir(dir, 'is not a plain directory (a symlink or a file)', `remove ${dir} (ccred recreates it), or set CCRED_RUNTIME_DIR`)
    throw unsafeDir(dir, `cannot be opened (${code ?? 'error'})`, `check ${dir}, or set CCRED_RUNTIME_DIR to a private directory`)
  }
  try {
    const opened = fstatSync(fd)
    const problem = checkOwnDir(dir, opened) ?? checkParentChain(dir)
    if (problem !== undefined) throw problem
    // The parents are safe now; the handle must be the directory that is at the path now.
    const atPath = statSync(dir)
    if (atPath.ino !== opened.ino || atPath.dev !== opened.dev) throw unsafeDir(dir, 'changed while it was being checked', `remove ${dir} (ccred recreates it), and check who else can write its parent`)
  } catch (error) {
    closeSync(fd)
    throw error
  }
  if (!canReachThroughProcFd(os)) {
    // macOS and the BSDs have no path through a directory handle; the parent
    // chain check is what holds there (see docs/security.md).
    closeSync(fd)
    return unpinned(dir)
  }
  let open = true
  return {
    path: dir,
    file: (name) => `/proc/self/fd/${fd}/${name}`,
    displayFile: (name) => `${dir}${sep}${name}`,
    close: () => {
      if (open) closeSync(fd)
      open = false
    },
  }
}

function unpinned(dir: string): PinnedRuntimeDir {
  return { path: dir, file: (name) => `${dir}${sep}${name}`, displayFile: (name) => `${dir}${sep}${name}`, close: () => {} }
}

/** Why the directory cannot be used, or undefined when it is fine or absent (doctor). */
export function checkPrivateDir(dir: string, os: NodeJS.Platform = hostPlatform().os): CcredError | undefined {
  const tooLong = socketPathTooLong(dir, os)
  if (tooLong !== undefined) return tooLong
  try {
    openRuntimeDir(dir, os).close()
    return undefined
  } catch (error) {
    if (error instanceof RuntimeDirMissing) return os === 'win32' ? undefined : checkParentChainOfMissing(dir) // absent is fine if it could be made safely
    return error as CcredError
  }
}

/** Creates the directory 0700 if missing, then opens and checks it; throws when it is not private. */
export function ensureRuntimeDir(dir: string, os: NodeJS.Platform = hostPlatform().os): PinnedRuntimeDir {
  const tooLong = socketPathTooLong(dir, os)
  if (tooLong !== undefined) throw tooLong
  // Windows has no parent chain of uids and modes to check, but the directory is still
  // needed: it holds the spawn lock, the daemon lock, the pid file and the pipe's name.
  if (os !== 'win32') {
    const parentProblem = checkParentChainOfMissing(dir)
    if (parentProblem !== undefined) throw parentProblem
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (error) {
    throw new CcredError('ERR_DAEMON', `runtime directory ${dir} cannot be created (${(error as NodeJS.ErrnoException).code})`, { cause: error, hint: 'set CCRED_RUNTIME_DIR to a private directory you can write' })
  }
  try {
    return openRuntimeDir(dir, os)
  } catch (error) {
    if (error instanceof RuntimeDirMissing) throw unsafeDir(dir, 'disappeared while it was being created', 'try again; if it persists, check who else can write its parent')
    throw error
  }
}

/**
 * The socket's full path must fit the kernel's sun_path (104 bytes on macOS, 108 on
 * Linux, NUL included). Over it, bind fails with a bare EINVAL/ENAMETOOLONG (or, on
 * some versions, binds a truncated name), so say which variable to shorten. Checked on
 * Linux too, although the pinned /proc path is short: tools like curl use the full one.
 */
export function socketPathTooLong(dir: string, os: NodeJS.Platform): CcredError | undefined {
  const maxBytes = socketPathMaxBytes(os)
  if (maxBytes === undefined) return undefined
  const socketBytes = Buffer.byteLength(`${dir}/${SOCKET_NAME}`) + 1
  if (socketBytes <= maxBytes) return undefined
  return new CcredError('ERR_DAEMON', `the socket path ${dir}/${SOCKET_NAME} is ${socketBytes} bytes with its terminator, over the ${maxBytes}-byte limit of ${os === 'linux' ? 'Linux' : 'macOS and the BSDs'} (sun_path)`, {
    hint: 'point CCRED_RUNTIME_DIR (or XDG_RUNTIME_DIR) at a shorter directory you own, e.g. ~/.ccred-run',
  })
}

/** Before mkdir -p: the deepest existing ancestor must already be a safe place to create things in. */
function checkParentChainOfMissing(dir: string): CcredError | undefined {
  let existing = dir
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing)
  if (existing === dir) return checkParentChain(dir)
  // `existing` will be a parent: check it and everything above it.
  return checkParentChain(dir, existing)
}
