import { execFileSync } from 'node:child_process'
import { userInfo } from 'node:os'
import { HOST_OS } from './platform.js'

/**
 * The name of the account this process runs as (`${USER}` in jwt claims, the AWS session
 * name). Node asks the system (getpwuid); Bun, which runs the standalone executable,
 * answers $USER or "unknown" when it is unset (root in CI, systemd services, launchd), so
 * there the system is asked through `id -un`. Windows keeps userInfo (it asks the system).
 */
export function accountName(os: NodeJS.Platform = HOST_OS, runtime: { bun?: string | undefined } = process.versions as { bun?: string }): string {
  const info = userInfo()
  if (runtime.bun === undefined || os === 'win32') return info.username
  try {
    const name = execFileSync('id', ['-un'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: '/usr/bin:/bin' } }).trim()
    if (name !== '') return name
  } catch { /* no id(1): keep what the runtime said */ }
  return info.username
}
