import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { CcredError, type ErrorCode } from '../errors.js'
import { HOST_OS } from '../platform.js'

/**
 * The config names commands the daemon runs as the user (exec sources), so it is
 * trusted only where nobody else can write it, as OpenSSH trusts ~/.ssh/config:
 * the file and every directory above it owned by the user or root and not
 * writable by group or others. A sticky directory (/tmp) is fine above the
 * config's own directory, never as it: anyone could create the file there.
 * The size is capped before the file is read whole.
 *
 * A file a profile reads a secret from (`file:` references, key files, Vault token
 * files) gets the same rules: a file another user can write or replace would make
 * ccred serve that user's value as the victim's credential. A symlink is followed
 * (Kubernetes mounts secrets as links) only when both the link's directories and the
 * target's pass. The open never blocks: a FIFO or a device is refused at once
 * instead of hanging `get`.
 */
export const CONFIG_MAX_BYTES = 1024 * 1024

/** What is being read, for messages and the error code. */
export interface TrustedFileKind {
  /** "config", "secret file" */
  label: string
  code: ErrorCode
  maxBytes: number
  /** What to do when the file is not a regular file or too large. */
  fixPath: string
  fixSize: string
  /**
   * A sticky directory (/tmp, a Kubernetes secret volume) may hold the file itself: nobody
   * else can replace a file there, and the file's own owner is checked on the open handle.
   * Not for the config, whose absence there would let anyone create it.
   */
  stickyParentIsFine?: boolean
  /**
   * Group-writable is fine (world-writable is not): for programs, which live in directories
   * such as /usr/local/bin that an admin group may write (Homebrew on macOS, staff on Debian).
   */
  groupWritableIsFine?: boolean
}

const CONFIG_FILE: TrustedFileKind = {
  label: 'config',
  code: 'ERR_CONFIG',
  maxBytes: CONFIG_MAX_BYTES,
  fixPath: 'point CCRED_CONFIG at a file',
  fixSize: 'a ccred config is a few KiB: check that CCRED_CONFIG names the right file',
}

function refusedAs(kind: TrustedFileKind): (path: string, why: string, fix: string) => CcredError {
  return (path, why, fix) => new CcredError(kind.code, `${kind.label} ${path} ${why}; refusing to use it`, { hint: fix })
}

/** Why `info` (a file or directory at `path`) could be changed by another user, or undefined. */
function othersCanChange(path: string, info: Stats, options: { stickyIsFine: boolean; groupWritableIsFine: boolean }, refused: ReturnType<typeof refusedAs>): CcredError | undefined {
  const uid = process.getuid?.() ?? info.uid
  if (info.uid !== uid && info.uid !== 0) return refused(path, `belongs to uid ${info.uid}, not to you (uid ${uid}) or root`, `run: chown ${uid} ${path}   (or move the file somewhere you own)`)
  const sticky = (info.mode & 0o1000) !== 0
  const writableBits = options.groupWritableIsFine ? 0o002 : 0o022
  if ((info.mode & writableBits) !== 0 && !(sticky && options.stickyIsFine)) {
    return refused(path, `is writable by ${options.groupWritableIsFine ? 'others' : 'group or others'} (mode ${(info.mode & 0o7777).toString(8)})`, `run: chmod ${options.groupWritableIsFine ? 'o-w' : 'go-w'} ${path}`)
  }
  return undefined
}

/** Checks every directory above the (real) file, nearest first. */
function checkDirectories(realFile: string, kind: TrustedFileKind, refused: ReturnType<typeof refusedAs>): CcredError | undefined {
  let current = dirname(realFile)
  for (let nearest = true; ; nearest = false) {
    let info: Stats
    try {
      info = statSync(current)
    } catch (error) {
      return refused(current, `cannot be checked (${(error as NodeJS.ErrnoException).code ?? 'error'})`, `check ${current}`)
    }
    const problem = othersCanChange(current, info, { stickyIsFine: !nearest || kind.stickyParentIsFine === true, groupWritableIsFine: kind.groupWritableIsFine === true }, refused)
    if (problem !== undefined) return problem
    if (dirname(current) === current) return undefined
    current = dirname(current)
  }
}

/**
 * Reads the config file after checking who can change it and how big it is.
 * Throws the fs error (ENOENT, EACCES) for the caller to word, a CcredError when
 * the file is untrusted or too large.
 */
export function readTrustedConfigFile(path: string): string {
  return readTrustedFile(path, CONFIG_FILE)
}

/**
 * Reads a file under the rules above. Throws the fs error (ENOENT, EACCES) for the
 * caller to word, a CcredError (`kind.code`) when the file is untrusted, not a regular
 * file, or too large.
 */
export function readTrustedFile(path: string, kind: TrustedFileKind): string {
  const refused = refusedAs(kind)
  // O_NONBLOCK: opening a FIFO with no writer returns at once (and is refused below as not a file).
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  try {
    const info = fstatSync(fd)
    if (!info.isFile()) throw refused(path, 'is not a regular file', `${kind.fixPath}, or remove ${path}`)
    if (info.size > kind.maxBytes) throw new CcredError(kind.code, `${kind.label} ${path} is ${info.size} bytes, over the ${describeBytes(kind.maxBytes)} limit; refusing to read it`, { hint: kind.fixSize })
    if (HOST_OS !== 'win32') {
      // Both where the name is (a dotfiles symlink could be replaced there) and where the file really is.
      const real = realpathSync.native(path)
      const problem = othersCanChange(path, info, { stickyIsFine: false, groupWritableIsFine: kind.groupWritableIsFine === true }, refused) ?? checkDirectories(resolve(path), kind, refused) ?? (real === resolve(path) ? undefined : checkDirectories(real, kind, refused))
      if (problem !== undefined) throw problem
    }
    // Read at most one byte over the cap: a file that grows after the fstat is still refused.
    const buffer = Buffer.alloc(kind.maxBytes + 1)
    let length = 0
    for (let read = -1; read !== 0 && length < buffer.length;) {
      read = readSync(fd, buffer, length, buffer.length - length, null)
      length += read
    }
    if (length > kind.maxBytes) throw new CcredError(kind.code, `${kind.label} ${path} grew over the ${describeBytes(kind.maxBytes)} limit while being read; refusing it`, { hint: kind.fixSize })
    return buffer.toString('utf8', 0, length)
  } finally {
    closeSync(fd)
  }
}

/**
 * The same rules for a file ccred runs rather than reads (an exec source's program):
 * the file and every directory above it (where its name is, and where it really is)
 * yours or root's and not writable by group or others. Undefined when it passes or
 * does not exist (running it then says "not found").
 */
export function untrustedProgram(path: string, kind: TrustedFileKind): CcredError | undefined {
  if (HOST_OS === 'win32') return undefined
  const refused = refusedAs(kind)
  let info: Stats
  let real: string
  try {
    info = statSync(path)
    real = realpathSync.native(path)
  } catch {
    return undefined
  }
  return othersCanChange(path, info, { stickyIsFine: false, groupWritableIsFine: kind.groupWritableIsFine === true }, refused) ?? checkDirectories(resolve(path), kind, refused) ?? (real === resolve(path) ? undefined : checkDirectories(real, kind, refused))
}

function describeBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`
}
