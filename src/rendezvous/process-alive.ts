import { readFileSync } from 'node:fs'
import { HOST_OS } from '../platform.js'

/**
 * Whether a pid is a live process. A zombie is not: a daemon killed while its
 * parent is gone can linger as one where pid 1 does not reap (containers), and
 * must not hold the lock for ever.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (HOST_OS !== 'linux') return true
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z'
  } catch {
    return false
  }
}
