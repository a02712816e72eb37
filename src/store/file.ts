import { chmod, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { CcredError } from '../errors.js'
import type { SecretStore } from './store.js'
import { HOST_OS } from '../platform.js'

/**
 * The opt-in file store (`store = "file"`): one JSON file, 0600, in a 0700
 * directory owned by the user. Refuses to read a file or directory that others
 * can read, as ssh does with private keys. Writes are atomic (temp file + rename).
 */
export class FileStore implements SecretStore {
  readonly kind = 'file' as const
  readonly path: string

  constructor(dir: string) {
    this.path = join(dir, 'secrets.json')
  }

  describe(): string {
    return `the file store ${this.path} (0600, opted in with store = "file")`
  }

  async #checkPrivate(path: string, wantDir: boolean): Promise<boolean> {
    let info
    try {
      info = await lstat(path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw error
    }
    const uid = typeof process.getuid === 'function' ? process.getuid() : info.uid
    if (wantDir ? !info.isDirectory() : !info.isFile()) {
      throw new CcredError('ERR_CONFIG', `file store: ${path} is not a ${wantDir ? 'directory' : 'regular file'}`, { hint: `remove ${path}` })
    }
    if (HOST_OS !== 'win32' && (info.uid !== uid || (info.mode & 0o077) !== 0)) {
      throw new CcredError('ERR_CONFIG', `file store: ${path} is accessible to other users (mode ${(info.mode & 0o777).toString(8)})`, {
        hint: `run: chmod ${wantDir ? '700' : '600'} ${path}   (and check its owner)`,
      })
    }
    return true
  }

  async #readAll(): Promise<Record<string, string>> {
    if (!(await this.#checkPrivate(dirname(this.path), true))) return {}
    if (!(await this.#checkPrivate(this.path, false))) return {}
    const text = await readFile(this.path, 'utf8')
    try {
      const parsed = JSON.parse(text) as unknown
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, string>
    } catch { /* reported below */ }
    throw new CcredError('ERR_CONFIG', `file store: ${this.path} is not valid JSON`, { hint: `move it aside and store the secrets again with: ccred set <profile>` })
  }

  async #writeAll(secrets: Record<string, string>): Promise<void> {
    const dir = dirname(this.path)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await chmod(dir, 0o700)
    await this.#checkPrivate(dir, true)
    const temp = `${this.path}.${process.pid}.tmp`
    // A leftover temp file could carry a looser mode into place: start from nothing.
    await unlink(temp).catch(() => undefined)
    const handle = await open(temp, 'wx', 0o600)
    try {
      await handle.writeFile(JSON.stringify(secrets, null, 2) + '\n')
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await rename(temp, this.path)
    } catch (error) {
      await unlink(temp).catch(() => undefined)
      throw error
    }
  }

  async get(name: string): Promise<string | undefined> {
    const secrets = await this.#readAll()
    return Object.hasOwn(secrets, name) ? secrets[name] : undefined
  }

  async set(name: string, value: string): Promise<void> {
    const secrets = await this.#readAll()
    secrets[name] = value
    await this.#writeAll(secrets)
    // Read back before anyone is told it is stored, as the keychain does.
    if ((await this.#readAll())[name] !== value) {
      throw new CcredError('ERR_KEYCHAIN_UNAVAILABLE', `the secret written to ${this.describe()} does not read back the same; nothing usable is stored`, { hint: 'check the disk and the file\'s permissions, then run the command again' })
    }
  }

  async delete(name: string): Promise<boolean> {
    const secrets = await this.#readAll()
    if (!Object.hasOwn(secrets, name)) return false
    delete secrets[name]
    await this.#writeAll(secrets)
    return true
  }
}
