import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { configPath } from '../config/paths.js'
import { STARTER_CONFIG } from '../config/starter.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import type { Io } from './io.js'

/** `ccred init`: writes a commented starter config; never overwrites one. */
export async function runInit(io: Io): Promise<number> {
  const path = configPath(io.env)
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  try {
    await writeFile(path, STARTER_CONFIG, { flag: 'wx', mode: 0o600 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CcredError('ERR_CONFIG', `${path} already exists; not overwriting it`, { hint: `edit it, or move it aside and run ccred init again` })
    }
    throw error
  }
  io.stderr.write(`ccred: wrote ${path}\nccred: next: ccred profiles   (then: ccred get demo)\n`)
  return EXIT_CODES.OK
}
