import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

/** Programs that stand between Claude Code and the helper without being the caller. */
const PASS_THROUGH = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'tcsh', 'csh', 'busybox', 'env', 'timeout', 'nice', 'nohup'])

export interface ProcessInfo {
  pid: number
  ppid: number
  /** The process name only (never its arguments, which may hold secrets). */
  command: string
}

/**
 * Ancestors are read once per few seconds, not on every request: under load the
 * same Claude Code process asks many times, and /proc reads are the daemon's
 * largest per-request cost. A pid reused within the window is the only risk,
 * and it only affects which caller a value is attributed to.
 */
const CACHE_MS = 2_000
const CACHE_MAX_ENTRIES = 1024
const cache = new Map<number, { info: ProcessInfo | undefined; readAtMs: number }>()

function processInfo(pid: number): ProcessInfo | undefined {
  const nowMs = Date.now()
  const hit = cache.get(pid)
  if (hit !== undefined && nowMs - hit.readAtMs < CACHE_MS) return hit.info
  const info = readProcessInfo(pid)
  if (cache.size >= CACHE_MAX_ENTRIES) cache.clear()
  cache.set(pid, { info, readAtMs: nowMs })
  return info
}

function readProcessInfo(pid: number): ProcessInfo | undefined {
  try {
    if (process.platform === 'linux') {
      // "pid (comm) state ppid ..."; comm may itself contain spaces and parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const command = stat.slice(stat.indexOf('(') + 1, close)
      const ppid = Number(stat.slice(close + 2).split(' ')[1])
      return { pid, ppid, command }
    }
    if (process.platform === 'darwin' || process.platform === 'freebsd') {
      const out = execFileSync('ps', ['-o', 'ppid=,comm=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 }).trim()
      const match = /^(\d+)\s+(.*)$/.exec(out)
      if (match === null) return undefined
      return { pid, ppid: Number(match[1]), command: basename(match[2]!) }
    }
  } catch {
    return undefined
  }
  return undefined
}

/**
 * The process that asked for the credential: the nearest ancestor of the ccred
 * client that is not a shell. Claude Code runs the helper as `sh -c "..."`, so
 * this finds the Claude Code process; the broker uses it to recognise a re-run
 * after a 401.
 */
export function findCaller(clientPid: number, clientParentPid?: number): ProcessInfo | undefined {
  // The client's own entry is new on every run, so it is not cached; its parent usually is.
  const parentPid = clientParentPid ?? readProcessInfo(clientPid)?.ppid
  if (parentPid === undefined) return undefined
  let current = processInfo(parentPid)
  for (let depth = 0; current !== undefined && depth < 16; depth++) {
    if (!PASS_THROUGH.has(current.command) || current.ppid <= 1) return current
    current = processInfo(current.ppid)
  }
  return current
}
