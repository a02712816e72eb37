import { lstatSync, mkdirSync } from 'node:fs'
import { CcredError } from '../errors.js'

/**
 * The socket lives in a private directory, as ssh-agent's does: owned by the
 * user, mode 0700. Anything else could let another user talk to the daemon or
 * plant a socket of their own, so it is refused rather than repaired.
 */
export function checkPrivateDir(dir: string): CcredError | undefined {
  if (process.platform === 'win32') return undefined
  let info
  try {
    info = lstatSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    return new CcredError('ERR_DAEMON', `runtime directory ${dir} cannot be checked (${(error as NodeJS.ErrnoException).code})`, { cause: error, hint: `check ${dir}, or set CCRED_RUNTIME_DIR to a private directory` })
  }
  const uid = process.getuid?.() ?? info.uid
  if (info.isSymbolicLink() || !info.isDirectory()) {
    return new CcredError('ERR_DAEMON', `runtime directory ${dir} is not a plain directory; refusing to use it`, { hint: `remove ${dir} (ccred recreates it), or set CCRED_RUNTIME_DIR` })
  }
  if (info.uid !== uid) {
    return new CcredError('ERR_DAEMON', `runtime directory ${dir} belongs to uid ${info.uid}, not to you (uid ${uid}); refusing to use it`, { hint: `remove ${dir}, or set CCRED_RUNTIME_DIR to a directory you own` })
  }
  if ((info.mode & 0o077) !== 0) {
    return new CcredError('ERR_DAEMON', `runtime directory ${dir} is accessible to other users (mode ${(info.mode & 0o777).toString(8)}); refusing to use it`, { hint: `run: chmod 700 ${dir}` })
  }
  return undefined
}

/** Creates the directory 0700 if missing, then checks it; throws when it is not private. */
export function ensurePrivateDir(dir: string): void {
  if (process.platform !== 'win32') {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
    } catch (error) {
      throw new CcredError('ERR_DAEMON', `runtime directory ${dir} cannot be created (${(error as NodeJS.ErrnoException).code})`, { cause: error, hint: 'set CCRED_RUNTIME_DIR to a private directory you can write' })
    }
  }
  const problem = checkPrivateDir(dir)
  if (problem !== undefined) throw problem
}
