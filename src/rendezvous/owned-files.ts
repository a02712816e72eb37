import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs'
import { isProcessAlive } from './process-alive.js'
import { HOST_OS } from '../platform.js'

/**
 * The daemon's lock and pid files. Each is created exclusively and never through
 * a symlink (O_EXCL|O_NOFOLLOW), and remembered by inode, so the daemon removes a
 * file only while it is still the one it made: an orphaned daemon never unlinks
 * the files of the daemon that replaced it.
 */
export interface OwnedFile {
  readonly path: string
  readonly dev: number
  readonly ino: number
}

const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0)

/** Creates `path` with `content`, 0600; throws EEXIST when anything (a file, a symlink) is there. */
export function createOwnedFile(path: string, content: string): OwnedFile {
  const fd = openSync(path, CREATE_EXCLUSIVE, 0o600)
  try {
    writeSync(fd, content)
    const info = fstatSync(fd)
    return { path, dev: info.dev, ino: info.ino }
  } finally {
    closeSync(fd)
  }
}

/** Whether `path` is still the file this process created. */
export function isStillOwn(file: OwnedFile): boolean {
  try {
    const info = lstatSync(file.path)
    return info.ino === file.ino && info.dev === file.dev
  } catch {
    return false
  }
}

/** Removes the file only if it is still the one this process created. */
export function removeIfOwn(file: OwnedFile | undefined): void {
  if (file === undefined || !isStillOwn(file)) return
  try {
    unlinkSync(file.path)
  } catch { /* already gone */ }
}

/**
 * When a process started, in clock ticks since boot (/proc/<pid>/stat, field 22).
 * With the pid it names one process for good: a pid reused by an unrelated
 * process after a crash has another start time. undefined where /proc is absent.
 */
export function processStartTicks(pid: number): string | undefined {
  if (HOST_OS !== 'linux') return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19]
  } catch {
    return undefined
  }
}

export interface LockHolder {
  pid: number
  startTicks?: string
}

/** The lock's content: "<pid> <start ticks>". */
export function lockContent(pid = process.pid): string {
  const ticks = processStartTicks(pid)
  return ticks === undefined ? `${pid}\n` : `${pid} ${ticks}\n`
}

export function readLockHolder(path: string): LockHolder | undefined {
  let text: string
  try {
    const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0))
    try {
      const buffer = Buffer.alloc(100)
      text = buffer.toString('utf8', 0, readSync(fd, buffer, 0, buffer.length, 0))
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
  const match = /^(\d+)(?: (\d+))?\s*$/.exec(text)
  if (match === null) return undefined
  return match[2] === undefined ? { pid: Number(match[1]) } : { pid: Number(match[1]), startTicks: match[2] }
}

/**
 * Whether the lock's holder still runs. On Linux the start time must match too,
 * so a dead daemon's pid taken by another process does not hold the lock for
 * ever; a lock without one (an older ccred, or a hand-made file) is stale there.
 */
export function isHolderAlive(holder: LockHolder): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || !isProcessAlive(holder.pid)) return false
  if (HOST_OS !== 'linux') return true
  return holder.startTicks !== undefined && processStartTicks(holder.pid) === holder.startTicks
}
