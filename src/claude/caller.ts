import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { hostPlatform } from '../platform.js'

/** Programs that stand between Claude Code and the helper without being the caller. */
const PASS_THROUGH = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'tcsh', 'csh', 'busybox', 'env', 'timeout', 'nice', 'nohup'])

export interface ProcessInfo {
  pid: number
  ppid: number
  /** The process name only (never its arguments, which may hold secrets). */
  command: string
}

/** Reads one process's parent and name; undefined when it is gone or cannot be read. */
export type ProcessReader = (pid: number) => Promise<ProcessInfo | undefined>

/** `ps` must not hold up a request: a slow or stuck one counts as "unknown". */
const PS_TIMEOUT_MS = 1_000

/**
 * How each OS is read: /proc on Linux; `ps`, asynchronously and with a short
 * timeout, on macOS and the BSDs (a synchronous `ps` blocked the whole daemon for
 * every request). Windows has none: `wmic` is gone from new releases and
 * PowerShell's Get-CimInstance takes about a second to start, longer than a helper
 * run should wait, so there the caller marks Claude Code sets in the environment
 * decide alone (helper-context.ts isClaudeCodeHelperRun; docs/platforms.md).
 */
export function processReaderFor(os: NodeJS.Platform): ProcessReader | null {
  if (os === 'linux') return readFromProc
  if (os === 'darwin' || os === 'freebsd' || os === 'openbsd') return readWithPs
  return null
}

/**
 * /proc is read synchronously on purpose: it is memory, not disk, and answers in
 * microseconds, which an fs thread-pool round trip per file would only slow down
 * (it is the daemon's largest per-request cost under load). Only `ps` is slow enough
 * to need a child process run asynchronously.
 */
function readFromProc(pid: number): Promise<ProcessInfo | undefined> {
  try {
    // "pid (comm) state ppid ..."; comm may itself contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = stat.lastIndexOf(')')
    const command = stat.slice(stat.indexOf('(') + 1, close)
    const ppid = Number(stat.slice(close + 2).split(' ')[1])
    return Promise.resolve({ pid, ppid, command })
  } catch {
    return Promise.resolve(undefined)
  }
}

export function readWithPs(pid: number): Promise<ProcessInfo | undefined> {
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'ppid=,comm=', '-p', String(pid)], { encoding: 'utf8', timeout: PS_TIMEOUT_MS, windowsHide: true }, (error, stdout) => {
      resolve(error === null ? parsePsLine(pid, stdout) : undefined)
    })
  })
}

/** One line of `ps -o ppid=,comm=`: the parent pid and the program (only its file name is kept). */
export function parsePsLine(pid: number, out: string): ProcessInfo | undefined {
  const match = /^\s*(\d+)\s+(.*?)\s*$/.exec(out.split('\n')[0] ?? '')
  if (match === null) return undefined
  return { pid, ppid: Number(match[1]), command: basename(match[2]!) }
}

/**
 * Ancestors are read once per few seconds, not on every request: under load the
 * same Claude Code process asks many times, and /proc reads are the daemon's
 * largest per-request cost. A pid reused within the window is the only risk,
 * and it only affects which caller a value is attributed to.
 */
const CACHE_MS = 2_000
const CACHE_MAX_ENTRIES = 1024
type Cache = Map<number, { info: Promise<ProcessInfo | undefined>; readAtMs: number }>
const caches = new WeakMap<ProcessReader, Cache>()

function processInfo(pid: number, read: ProcessReader): Promise<ProcessInfo | undefined> {
  const nowMs = Date.now()
  let cache = caches.get(read)
  if (cache === undefined) caches.set(read, cache = new Map())
  const hit = cache.get(pid)
  if (hit !== undefined && nowMs - hit.readAtMs < CACHE_MS) return hit.info
  const info = read(pid)
  if (cache.size >= CACHE_MAX_ENTRIES) cache.clear()
  cache.set(pid, { info, readAtMs: nowMs })
  return info
}

/**
 * The process that asked for the credential: the nearest ancestor of the ccred
 * client that is not a shell. Claude Code runs the helper as `sh -c "..."`, so
 * this finds the Claude Code process; the broker uses it to recognise a re-run
 * after a 401. Undefined where the platform has no reader (Windows).
 */
export async function findCaller(clientPid: number, clientParentPid?: number, read: ProcessReader | null = processReaderFor(hostPlatform().os)): Promise<ProcessInfo | undefined> {
  if (read === null) return undefined
  // The client's own entry is new on every run, so it is not cached; its parent usually is.
  const parentPid = clientParentPid ?? (await read(clientPid))?.ppid
  if (parentPid === undefined) return undefined
  let current = await processInfo(parentPid, read)
  for (let depth = 0; current !== undefined && depth < 16; depth++) {
    if (!PASS_THROUGH.has(current.command) || current.ppid <= 1) return current
    current = await processInfo(current.ppid, read)
  }
  return current
}
