import { spawnSync } from 'node:child_process'
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
  /** Linux: the start time in clock ticks since boot (exact). */
  startTicks?: string
  /** Elsewhere: the start time in ms since the epoch, as the holder saw it (to the second or so). */
  startedAtMs?: number
}

/**
 * The lock's content: "<pid> <start ticks>" on Linux, "<pid> @<start ms>" elsewhere, so on
 * every OS a pid taken over by another process after a crash is told apart from the holder.
 */
export function lockContent(os: NodeJS.Platform = HOST_OS): string {
  const ticks = os === 'linux' ? processStartTicks(process.pid) : undefined
  if (ticks !== undefined) return `${process.pid} ${ticks}\n`
  return `${process.pid} @${Math.round(Date.now() - process.uptime() * 1000)}\n`
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
  const match = /^(\d+)(?: (\d+)| @(\d+))?\s*$/.exec(text)
  if (match === null) return undefined
  const pid = Number(match[1])
  if (match[2] !== undefined) return { pid, startTicks: match[2] }
  if (match[3] !== undefined) return { pid, startedAtMs: Number(match[3]) }
  return { pid }
}

/** How far two readings of one process's start time may differ: ps shows whole seconds, and the holder's own reading is a little late. */
const START_TIME_TOLERANCE_MS = 2_000

/**
 * When `pid` started, in ms since the epoch, where /proc is absent: `ps -o lstart=` on macOS and
 * the BSDs (whole seconds), PowerShell's Get-Process on Windows. A process is spawned, so this is
 * only for a lock that is there and held by a live pid, never the warm path. undefined when it
 * cannot be told.
 */
export function processStartedAtMs(pid: number, os: NodeJS.Platform = HOST_OS): number | undefined {
  const [file, args] = os === 'win32'
    ? ['powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', `(Get-Process -Id ${pid}).StartTime.ToUniversalTime().ToString('o')`]]
    : ['ps', ['-o', 'lstart=', '-p', String(pid)]]
  const result = spawnSync(file, args, { encoding: 'utf8', timeout: 5_000, windowsHide: true, stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, LC_ALL: 'C' } })
  if (result.status !== 0) return undefined
  const startedAtMs = Date.parse(result.stdout.trim().replace(/\s+/g, ' '))
  return Number.isFinite(startedAtMs) ? startedAtMs : undefined
}

/**
 * Whether the lock's holder still runs. The start time must match too, on every OS, so a dead
 * daemon's pid taken by another process does not hold the lock for ever; a lock without one (an
 * older ccred, or a hand-made file) is stale. Where the start time of a live pid cannot be read
 * (no ps, no PowerShell), the holder is taken as alive: a stuck start is better than two daemons.
 */
export function isHolderAlive(holder: LockHolder, os: NodeJS.Platform = HOST_OS, startedAtMsOf: (pid: number) => number | undefined = (pid) => processStartedAtMs(pid, os)): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || !isProcessAlive(holder.pid)) return false
  if (os === 'linux') return holder.startTicks !== undefined && processStartTicks(holder.pid) === holder.startTicks
  if (holder.startedAtMs === undefined) return false
  const actualMs = startedAtMsOf(holder.pid)
  return actualMs === undefined || Math.abs(actualMs - holder.startedAtMs) <= START_TIME_TOLERANCE_MS
}
