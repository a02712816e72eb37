import { readFileSync, writeFileSync } from 'node:fs'
import { CcredError } from '../errors.js'

/**
 * Windows: the daemon listens on a named pipe, and pipe names are one namespace
 * for every user of the machine. A fixed name (\\.\pipe\ccred-<user>) could be
 * created first by another local user, who would then receive every request. So
 * the daemon picks a name nobody can guess (128 random bits) and records it in
 * the runtime directory under %LOCALAPPDATA%, which only the user (and SYSTEM and
 * administrators) can read; clients read the name from there. What is not
 * enforced: ccred does not check that directory's ACL, nor set one on the pipe
 * beyond Node's default (docs/platforms.md, docs/security.md).
 */
const PIPE_NAME = /^\\\\\.\\pipe\\ccred-[A-Za-z0-9_.-]{1,64}-[0-9a-f]{32}$/

/** `randomHex`: 32 hex digits from randomBytes(16) (the caller's, so the client side of this module loads no crypto). */
export function newPipeName(env: Record<string, string | undefined>, randomHex: string): string {
  if (!/^[0-9a-f]{32}$/.test(randomHex)) throw new TypeError('newPipeName needs 32 lowercase hex digits')
  const user = (env.USERNAME || 'user').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)
  return `\\\\.\\pipe\\ccred-${user}-${randomHex}`
}

/** Writes the name where clients look for it; the daemon holds its lock, so the file is its own to replace. */
export function recordPipeName(file: string, pipeName: string): void {
  writeFileSync(file, `${pipeName}\n`, { mode: 0o600 })
}

/** The recorded name, or undefined when no daemon recorded one; a malformed file is an error, never a pipe to connect to. */
export function readPipeName(file: string): string | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CcredError('ERR_DAEMON', `cannot read the daemon's pipe name from ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error, hint: `check ${file}, or remove it and run: ccred daemon start` })
  }
  const name = text.trim()
  if (!PIPE_NAME.test(name)) {
    throw new CcredError('ERR_DAEMON', `${file} does not hold a ccred pipe name; refusing to connect`, { hint: `remove ${file} (the daemon writes it again), then run: ccred daemon start` })
  }
  return name
}
