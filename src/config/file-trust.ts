import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { CcredError } from '../errors.js'
import { HOST_OS } from '../platform.js'

/**
 * The config names commands the daemon runs as the user (exec sources), so it is
 * trusted only where nobody else can write it, as OpenSSH trusts ~/.ssh/config:
 * the file and every directory above it owned by the user or root and not
 * writable by group or others. A sticky directory (/tmp) is fine above the
 * config's own directory, never as it: anyone could create the file there.
 * The size is capped before the file is read whole.
 */
export const CONFIG_MAX_BYTES = 1024 * 1024

function refused(path: string, why: string, fix: string): CcredError {
  return new CcredError('ERR_CONFIG', `config ${path} ${why}; refusing to use it`, { hint: fix })
}

/** Why `info` (a file or directory at `path`) could be changed by another user, or undefined. */
function othersCanChange(path: string, info: Stats, options: { stickyIsFine: boolean }): CcredError | undefined {
  const uid = process.getuid?.() ?? info.uid
  if (info.uid !== uid && info.uid !== 0) return refused(path, `belongs to uid ${info.uid}, not to you (uid ${uid}) or root`, `run: chown ${uid} ${path}   (or move the config somewhere you own)`)
  const sticky = (info.mode & 0o1000) !== 0
  if ((info.mode & 0o022) !== 0 && !(sticky && options.stickyIsFine)) {
    return refused(path, `is writable by group or others (mode ${(info.mode & 0o7777).toString(8)})`, `run: chmod go-w ${path}`)
  }
  return undefined
}

/** Checks every directory above the (real) file, nearest first. */
function checkDirectories(realFile: string): CcredError | undefined {
  let current = dirname(realFile)
  for (let nearest = true; ; nearest = false) {
    let info: Stats
    try {
      info = statSync(current)
    } catch (error) {
      return refused(current, `cannot be checked (${(error as NodeJS.ErrnoException).code ?? 'error'})`, `check ${current}`)
    }
    const problem = othersCanChange(current, info, { stickyIsFine: !nearest })
    if (problem !== undefined) return problem
    if (dirname(current) === current) return undefined
    current = dirname(current)
  }
}

/**
 * Reads the config file after checking who can change it and how big it is.
 * Throws the fs error (ENOENT, EACCES) for the caller to word, a CcredError when
 * the file is untrusted or too large.
 */
export function readTrustedConfigFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY)
  try {
    const info = fstatSync(fd)
    if (!info.isFile()) throw refused(path, 'is not a regular file', `point CCRED_CONFIG at a file, or remove ${path}`)
    if (info.size > CONFIG_MAX_BYTES) throw new CcredError('ERR_CONFIG', `config ${path} is ${info.size} bytes, over the ${CONFIG_MAX_BYTES / 1024 / 1024} MiB limit; refusing to read it`, { hint: 'a ccred config is a few KiB: check that CCRED_CONFIG names the right file' })
    if (HOST_OS !== 'win32') {
      // Both where the name is (a dotfiles symlink could be replaced there) and where the file really is.
      const real = realpathSync.native(path)
      const problem = othersCanChange(path, info, { stickyIsFine: false }) ?? checkDirectories(resolve(path)) ?? (real === resolve(path) ? undefined : checkDirectories(real))
      if (problem !== undefined) throw problem
    }
    // Read at most one byte over the cap: a file that grows after the fstat is still refused.
    const buffer = Buffer.alloc(CONFIG_MAX_BYTES + 1)
    let length = 0
    for (let read = -1; read !== 0 && length < buffer.length;) {
      read = readSync(fd, buffer, length, buffer.length - length, null)
      length += read
    }
    if (length > CONFIG_MAX_BYTES) throw new CcredError('ERR_CONFIG', `config ${path} grew over the ${CONFIG_MAX_BYTES / 1024 / 1024} MiB limit while being read; refusing it`, { hint: 'a ccred config is a few KiB: check that CCRED_CONFIG names the right file' })
    return buffer.toString('utf8', 0, length)
  } finally {
    closeSync(fd)
  }
}
