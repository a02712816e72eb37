import { HOST_OS } from '../platform.js'

/** Why a browser can or cannot be opened here; `reason` is shown when ccred falls back to the device flow. */
export interface BrowserDecision {
  /** Run the loopback flow (the browser opens, or the user opens the printed URL). */
  loopback: boolean
  /** Launch the system browser (false: only print the URL). */
  launch: boolean
  reason: string
}

/**
 * Can the authorization-code flow work here? Not in CI, not over SSH (the browser
 * would open on another machine, or nowhere), not on a Linux box without a display.
 * CCRED_BROWSER=none keeps the loopback flow but only prints the URL (the user opens
 * it, e.g. through an SSH port forward).
 */
export function decideBrowser(env: Record<string, string | undefined>, platform: NodeJS.Platform = HOST_OS): BrowserDecision {
  if (env.CCRED_BROWSER === 'none') return { loopback: true, launch: false, reason: 'CCRED_BROWSER=none: open the printed URL yourself' }
  if (isCi(env)) return { loopback: false, launch: false, reason: 'running in CI' }
  if (env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY) return { loopback: false, launch: false, reason: 'an SSH session (a browser would open on the wrong machine)' }
  if (platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) return { loopback: false, launch: false, reason: 'no DISPLAY or WAYLAND_DISPLAY' }
  return { loopback: true, launch: true, reason: 'a browser can be opened' }
}

/** The CI variable GitHub Actions, GitLab CI, CircleCI, Buildkite and others set; "false"/"0" mean no. */
export function isCi(env: Record<string, string | undefined>): boolean {
  const ci = env.CI
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false'
}

/** Opens the system browser; a failure only means the user opens the printed URL by hand. */
export async function launchBrowser(url: string): Promise<boolean> {
  try {
    const { default: open } = await import('open')
    const child = await open(url, { wait: false })
    child.on('error', () => { /* printed URL is the fallback */ })
    child.unref()
    return true
  } catch {
    return false
  }
}
