import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { CcredError } from '../errors.js'
import { HOST_OS } from '../platform.js'

/**
 * Reading and writing an agent's settings file for an edit, so that a file a
 * repository ships cannot make ccred write elsewhere (a `.mcp.json` linked to
 * ~/.claude.json) or copy the user's data into the project: the same trust the config
 * gets (src/config/file-trust.ts), applied to what setup is about to rewrite. A
 * symbolic link, anything but a regular file, and a file another user owns are
 * refused; the file is opened with O_NOFOLLOW and written by an atomic rename that
 * first checks the file is still the one that was read.
 */

/** The identity of the file that was read, so a swap between plan and write is caught. */
export interface FileIdentity {
  dev: number
  ino: number
  /** Permission bits, kept when the file is rewritten. */
  mode: number
}

/** A file as it was read for editing. */
export interface FileSnapshot {
  path: string
  exists: boolean
  /** The file's text ('' when absent). */
  text: string
  identity?: FileIdentity
}

// Windows has neither O_NOFOLLOW nor Unix owners: there the link check (lstat) is all.
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0
const NON_BLOCK = constants.O_NONBLOCK ?? 0

/** The coded error for a file ccred will not edit. */
export function unsafeFileError(path: string, why: string, hint: string): CcredError {
  return new CcredError('ERR_CONFIG', `refusing to edit ${path}: ${why}`, { hint })
}

function myUid(): number | undefined {
  return HOST_OS === 'win32' ? undefined : process.getuid?.()
}

/** Why ccred will not edit what `info` describes, or undefined. */
function problemWith(path: string, info: Stats): CcredError | undefined {
  if (info.isSymbolicLink()) {
    return unsafeFileError(path, 'it is a symbolic link, and writing through it would change (or copy into this place) the file it points to', `look at where it points (ls -l ${path}) and remove the link if you did not make it; ccred does not write through links: set up the file it points to in its own scope (e.g. user scope, without --project)`)
  }
  if (!info.isFile()) return unsafeFileError(path, 'it is not a regular file', `remove or rename ${path}, then run setup again`)
  const uid = myUid()
  if (uid !== undefined && info.uid !== uid) {
    return unsafeFileError(path, `it belongs to uid ${info.uid}, not to you (uid ${uid})`, `check who put it there; if it is yours to change: chown ${uid} ${path}`)
  }
  return undefined
}

/**
 * Refuses a symbolic link among the directories from `base` down to the file's own
 * directory: `.claude -> ~/.claude` in a repository would make a project edit land in the
 * user's settings.
 */
function checkDirectoriesWithin(path: string, base: string): void {
  const parts = relative(resolve(base), resolve(dirname(path))).split(sep).filter((part) => part !== '')
  if (parts[0] === '..') return
  let current = resolve(base)
  for (const part of parts) {
    current = join(current, part)
    let info: Stats
    try {
      info = lstatSync(current)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      throw error
    }
    if (info.isSymbolicLink()) throw unsafeFileError(path, `the directory ${current} is a symbolic link`, `look at where it points (ls -l ${current}); ccred edits a project's files only inside the project`)
  }
}

export interface ReadForEditOptions {
  /** Refuses a file larger than this, before reading it whole. */
  maxBytes: number
  /** The project directory the file belongs to: no directory between it and the file may be a link. */
  within?: string
  label?: ReadLabel
}

/** Reads a file setup is about to rewrite; absent is fine (setup creates it). */
export function readForEdit(path: string, options: ReadForEditOptions): FileSnapshot {
  if (options.within !== undefined) checkDirectoriesWithin(path, options.within)
  let linkInfo: Stats
  try {
    linkInfo = lstatSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { path, exists: false, text: '' }
    throw cannotRead(path, error, options.label)
  }
  const problem = problemWith(path, linkInfo)
  if (problem !== undefined) throw problem
  let fd: number
  try {
    // O_NONBLOCK: should a FIFO replace the file after the lstat, the open does not hang.
    fd = openSync(path, constants.O_RDONLY | NO_FOLLOW | NON_BLOCK)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw problemWith(path, lstatSync(path)) ?? cannotRead(path, error, options.label)
    throw cannotRead(path, error, options.label)
  }
  try {
    const info = fstatSync(fd)
    const swapped = info.dev !== linkInfo.dev || info.ino !== linkInfo.ino
    const opened = swapped ? unsafeFileError(path, 'it was replaced while being read', 'run setup again') : problemWith(path, info)
    if (opened !== undefined) throw opened
    if (info.size > options.maxBytes) throw cannotRead(path, new Error(`larger than ${Math.round(options.maxBytes / 1024 / 1024)} MiB`), options.label)
    // One byte over the cap is read, so a file that grows after the fstat is still refused.
    const buffer = Buffer.alloc(Math.min(info.size, options.maxBytes) + 1)
    let length = 0
    for (let read = -1; read !== 0 && length < buffer.length;) {
      read = readSync(fd, buffer, length, buffer.length - length, null)
      length += read
    }
    if (length > options.maxBytes) throw cannotRead(path, new Error(`grew over ${Math.round(options.maxBytes / 1024 / 1024)} MiB while being read`), options.label)
    return { path, exists: true, text: buffer.toString('utf8', 0, length), identity: { dev: info.dev, ino: info.ino, mode: info.mode & 0o777 } }
  } finally {
    closeSync(fd)
  }
}

/** Reads a file for a check only (doctor, the layers setup does not write): links are followed, as Claude Code follows them. */
export function readFollowing(path: string, options: { maxBytes: number; label?: ReadLabel }): FileSnapshot {
  let text: string
  try {
    const info = statSync(path, { throwIfNoEntry: false })
    if (info === undefined) return { path, exists: false, text: '' }
    // A FIFO would block the read for good; a device is nobody's settings.
    if (!info.isFile()) throw new Error('not a regular file')
    if (info.size > options.maxBytes) throw new Error(`larger than ${Math.round(options.maxBytes / 1024 / 1024)} MiB`)
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { path, exists: false, text: '' }
    throw cannotRead(path, error, options.label)
  }
  return { path, exists: true, text }
}

/** How a read failure names the file and what to do ("Claude Code user settings", a hint for root-owned files). */
export interface ReadLabel {
  what: string
  hint?: string
}

function cannotRead(path: string, error: unknown, label?: ReadLabel): CcredError {
  return new CcredError('ERR_CONFIG', `cannot read ${label === undefined ? '' : `${label.what} `}${path}: ${(error as Error).message}`, { cause: error, hint: label?.hint ?? "check the file's permissions" })
}

export interface WriteOptions {
  /** The file as it was read: the write is refused if something else is there now. */
  expected?: FileSnapshot
  /** Permission bits of a new file (an existing one keeps its own). */
  mode: number
  /** As for reading: no linked directory between the project and the file. */
  within?: string
}

/**
 * Writes `text` to `path` atomically (a new temp file beside it, then rename). The
 * rename replaces a link rather than following it, and the target is checked to be
 * the file that was read (or still absent) just before.
 */
export function writeAtomic(path: string, text: string, options: WriteOptions): void {
  mkdirSync(dirname(path), { recursive: true })
  if (options.within !== undefined) checkDirectoriesWithin(path, options.within)
  const current = lstatSync(path, { throwIfNoEntry: false })
  const expected = options.expected
  if (expected !== undefined) {
    const same = expected.exists
      ? current !== undefined && current.dev === expected.identity?.dev && current.ino === expected.identity.ino
      : current === undefined
    if (!same) throw unsafeFileError(path, `it changed while setup was running (${current === undefined ? 'removed' : expected.exists ? 'replaced' : 'created'})`, 'run setup again')
  }
  if (current !== undefined) {
    const problem = problemWith(path, current)
    if (problem !== undefined) throw problem
  }
  const mode = expected?.identity?.mode ?? (current === undefined ? options.mode : current.mode & 0o777)
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.ccred-tmp`)
  try {
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NO_FOLLOW, mode)
    try {
      const bytes = Buffer.from(text, 'utf8')
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written)
      // The umask may have narrowed the mode at open: the file gets exactly the one asked for.
      if (HOST_OS !== 'win32') fchmodSync(fd, mode)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temp, path)
  } catch (error) {
    rmSync(temp, { force: true })
    throw new CcredError('ERR_CONFIG', `cannot write ${path}: ${(error as Error).message}`, { cause: error, hint: "check the directory's permissions" })
  }
}

/**
 * A directory only the user can enter (0700), created if needed: where setup keeps
 * backups and its record of what it changed. Refused when it is a link or another user's.
 */
export function ensurePrivateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 })
  const info = lstatSync(path)
  if (info.isSymbolicLink() || !info.isDirectory()) throw unsafeFileError(path, 'it is not a directory (a link?)', `remove ${path}; ccred creates it again`)
  const uid = myUid()
  if (uid !== undefined && info.uid !== uid) throw unsafeFileError(path, `it belongs to uid ${info.uid}, not to you (uid ${uid})`, `remove ${path}; ccred creates it again`)
  if (HOST_OS !== 'win32' && (info.mode & 0o077) !== 0) chmodSync(path, 0o700)
  return path
}
