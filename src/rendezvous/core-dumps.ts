import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { HOST_OS } from '../platform.js'

/**
 * A core dump of the daemon would write every cached credential to disk. The
 * autostarted daemon runs under `ulimit -c 0` and the login services set the
 * limit, but `ccred daemon run` started by hand (or by a unit someone wrote)
 * inherits whatever the shell allows. Node has no setrlimit, so on Linux the
 * daemon lowers its own limit with util-linux's prlimit (lowering needs no
 * privilege). Returns a problem to log when the limit stays above zero.
 */
export function disableCoreDumps(): string | undefined {
  if (HOST_OS !== 'linux') return undefined
  const limit = () => {
    try {
      return /^Max core file size\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.slice(1, 3)
    } catch {
      return undefined
    }
  }
  const before = limit()
  if (before === undefined || (before[0] === '0' && before[1] === '0')) return undefined
  const result = spawnSync('prlimit', ['--pid', String(process.pid), '--core=0:0'], { stdio: 'ignore', timeout: 5_000 })
  if (limit()?.[0] === '0') return undefined
  return `core dumps could not be turned off (prlimit ${result.error === undefined ? `exited ${result.status}` : 'is missing'}); run the daemon under \`ulimit -c 0\``
}
