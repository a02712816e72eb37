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

export function processInfo(pid: number): ProcessInfo | undefined {
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
export function findCaller(clientPid: number): ProcessInfo | undefined {
  const client = processInfo(clientPid)
  if (client === undefined) return undefined
  let current = processInfo(client.ppid)
  for (let depth = 0; current !== undefined && depth < 16; depth++) {
    if (!PASS_THROUGH.has(current.command) || current.ppid <= 1) return current
    current = processInfo(current.ppid)
  }
  return current
}
