import { createRequire } from 'node:module'
import { CcredError } from '../errors.js'
import { withDeadline } from '../net/deadline.js'
import { KEYCHAIN_SERVICE, type SecretStore } from './store.js'

interface Keytar {
  getPassword(service: string, account: string): Promise<string | null>
  setPassword(service: string, account: string, password: string): Promise<void>
  deletePassword(service: string, account: string): Promise<boolean>
}

/** A keychain that does not answer (a locked keyring waiting on a prompt nobody sees) must not hang `get`. */
const KEYCHAIN_TIMEOUT_MS = 10_000

function unavailable(detail: string, cause?: unknown): CcredError {
  const hint = process.platform === 'linux'
    ? /locked/i.test(detail)
      ? 'unlock your login keyring (e.g. log in to the desktop session, or: gnome-keyring-daemon --unlock); or opt in to a file store with `store = "file"` under [broker]'
      : 'install libsecret (apt-get install libsecret-1-0) and run a Secret Service such as gnome-keyring in your session; or opt in to a file store with `store = "file"` under [broker]'
    : 'unlock the OS keychain; or opt in to a file store with `store = "file"` under [broker]'
  return new CcredError('ERR_KEYCHAIN_UNAVAILABLE', `the OS keychain is unavailable: ${detail}`, { hint, cause })
}

let keytarPromise: Promise<Keytar> | undefined

/** keytar is an optional native dependency: loaded on first use, never on the `get` client path. */
function loadKeytar(): Promise<Keytar> {
  keytarPromise ??= (async () => {
    try {
      const require = createRequire(import.meta.url)
      const loaded = require('keytar') as Keytar & { default?: Keytar }
      return loaded.default ?? loaded
    } catch (error) {
      keytarPromise = undefined
      throw unavailable(`the keytar module could not be loaded (${(error as Error).message.split('\n')[0]})`, error)
    }
  })()
  return keytarPromise
}

async function call<T>(what: string, operation: (keytar: Keytar) => Promise<T>): Promise<T> {
  const keytar = await loadKeytar()
  try {
    return await withDeadline(operation(keytar), KEYCHAIN_TIMEOUT_MS, () => unavailable(`${what} got no answer within ${KEYCHAIN_TIMEOUT_MS / 1000}s (is the keyring locked?)`))
  } catch (error) {
    if (error instanceof CcredError) throw error
    throw unavailable(`${what} failed (${(error as Error).message.split('\n')[0]})`, error)
  }
}

export class KeychainStore implements SecretStore {
  readonly kind = 'keychain' as const

  describe(): string {
    return `the OS keychain (service "${KEYCHAIN_SERVICE}")`
  }

  async get(name: string): Promise<string | undefined> {
    const value = await call('reading a secret', (k) => k.getPassword(KEYCHAIN_SERVICE, name))
    return value ?? undefined
  }

  async set(name: string, value: string): Promise<void> {
    await call('storing a secret', (k) => k.setPassword(KEYCHAIN_SERVICE, name, value))
  }

  async delete(name: string): Promise<boolean> {
    return call('deleting a secret', (k) => k.deletePassword(KEYCHAIN_SERVICE, name))
  }
}
