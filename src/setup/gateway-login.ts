import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { HOST_OS } from '../platform.js'

type Env = Record<string, string | undefined>

/** Claude Code's own sign-in to a Claude apps gateway, as far as it can be seen from here. Never a token. */
export interface ClaudeGatewayLogin {
  /** Where Claude Code keeps sign-ins on this platform. */
  store: { kind: 'file'; path: string } | { kind: 'keychain' }
  /** The saved sign-in (`enterpriseGateway` in the credentials file), when the file holds one. */
  saved?: { url?: string; expiresAtMs?: number }
  /** Why the credentials file could not be read (absent is not a problem). */
  unreadable?: string
}

/** The credentials key under which Claude Code 2.1.x keeps a gateway sign-in (measured on 2.1.330). */
const GATEWAY_SIGN_IN_KEY = 'enterpriseGateway'

/**
 * Reads Claude Code's saved gateway sign-in: on Linux and Windows from
 * `<CLAUDE_CONFIG_DIR or ~/.claude>/.credentials.json`; on macOS Claude Code keeps it in the
 * login keychain, which ccred does not read, so only settings (forceLoginMethod) can tell.
 */
export function readClaudeGatewayLogin(env: Env, platform: NodeJS.Platform = HOST_OS): ClaudeGatewayLogin {
  if (platform === 'darwin') return { store: { kind: 'keychain' } }
  const path = join(env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), '.claude'), '.credentials.json')
  const login: ClaudeGatewayLogin = { store: { kind: 'file', path } }
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') login.unreadable = (error as Error).name === 'SyntaxError' ? 'not valid JSON' : ((error as NodeJS.ErrnoException).code ?? 'unreadable')
    return login
  }
  const entry = (parsed as Record<string, unknown> | null)?.[GATEWAY_SIGN_IN_KEY]
  if (entry === null || typeof entry !== 'object') return login
  const { url, expiresAt } = entry as { url?: unknown; expiresAt?: unknown }
  login.saved = {
    ...(typeof url === 'string' ? { url: originOf(url) } : {}),
    ...(typeof expiresAt === 'number' && Number.isFinite(expiresAt) ? { expiresAtMs: expiresAt } : {}),
  }
  return login
}

/** Scheme, host and port only: a URL with a path or query could carry something private. */
function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(not a URL)'
  }
}
