import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { CcredError } from '../errors.js'
import { standaloneBuild } from '../executable.js'
import { withDeadline } from '../net/deadline.js'
import { hostPlatform } from '../platform.js'
import { bindingLoadProblem, credentialManagerLimitProblem, keychainHint } from './keychain-platform.js'
import { KEYCHAIN_SERVICE, type SecretStore, type StoreAvailability } from './store.js'
import { SECURITY_PATH, securityCliBackend } from './macos-security.js'

/**
 * The OS keychain through one of two native bindings:
 * - keytar (libsecret on Linux, Keychain Services on macOS, Credential Manager on
 *   Windows): built from source by the install, so it is missing wherever the
 *   build failed (no libsecret headers, no node-gyp headers offline);
 * - @napi-rs/keyring (the Rust `keyring` crate): prebuilt per platform, so it loads
 *   where keytar could not be built.
 * keytar is preferred (secrets stored by earlier versions live under its attributes);
 * the other is the fallback. The two file a secret under different attributes, so a
 * read that misses in keytar also looks in the fallback: a secret stored while keytar
 * was unavailable is still found after keytar comes back. Nothing is lost either way.
 */
export interface KeychainBackend {
  /** `security`: Apple's /usr/bin/security, preferred on macOS (macos-security.ts says why). */
  readonly name: 'keytar' | '@napi-rs/keyring' | 'security'
  get(account: string): Promise<string | null>
  set(account: string, password: string): Promise<void>
  delete(account: string): Promise<boolean>
}

/** What `status` and `doctor` say about the keychain; never a secret. */
export interface KeychainState {
  /** The binding in use, or undefined when neither loads. */
  backend?: KeychainBackend['name']
  /** Why keytar (and, without a backend, the fallback too) could not be loaded. */
  problems: string[]
  /** What to do about them: a fix that works for this install. */
  hint?: string
}

/** A keychain that does not answer (a locked keyring waiting on a prompt nobody sees) must not hang `get`. */
const KEYCHAIN_TIMEOUT_MS = 10_000

function unavailable(os: NodeJS.Platform, detail: string, cause?: unknown): CcredError {
  return new CcredError('ERR_KEYCHAIN_UNAVAILABLE', `the OS keychain is unavailable: ${detail}`, { hint: keychainHint(os, detail), cause })
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!
}

interface Keytar {
  getPassword(service: string, account: string): Promise<string | null>
  setPassword(service: string, account: string, password: string): Promise<void>
  deletePassword(service: string, account: string): Promise<boolean>
}

interface NapiKeyring {
  AsyncEntry: new (service: string, username: string) => {
    getPassword(): Promise<string | null | undefined>
    setPassword(password: string): Promise<void>
    deletePassword(): Promise<boolean>
  }
  findCredentialsAsync(service: string): Promise<unknown[]>
}

function loadKeytarBackend(): KeychainBackend {
  const require = createRequire(import.meta.url)
  const loaded = require('keytar') as Keytar & { default?: Keytar }
  const keytar = loaded.default ?? loaded
  return {
    name: 'keytar',
    get: (account) => keytar.getPassword(KEYCHAIN_SERVICE, account),
    set: (account, password) => keytar.setPassword(KEYCHAIN_SERVICE, account, password),
    delete: (account) => keytar.deletePassword(KEYCHAIN_SERVICE, account),
  }
}

function loadNapiBackend(): KeychainBackend {
  // The executable carries this target's binding inside; there is no node_modules to look in.
  const embedded = standaloneBuild()?.loadKeyring
  const { AsyncEntry, findCredentialsAsync } = (embedded !== undefined ? embedded() : createRequire(import.meta.url)('@napi-rs/keyring')) as NapiKeyring
  return {
    name: '@napi-rs/keyring',
    get: async (account) => {
      const value = await new AsyncEntry(KEYCHAIN_SERVICE, account).getPassword()
      if (value !== null && value !== undefined) return value
      // The crate answers null both for "no such entry" and for "no keychain to ask" (no
      // Secret Service on D-Bus: AccessDenied, swallowed). A search does reject when the
      // store cannot be reached, so a miss is confirmed with one before it is called a miss.
      await findCredentialsAsync(KEYCHAIN_SERVICE)
      return null
    },
    set: (account, password) => new AsyncEntry(KEYCHAIN_SERVICE, account).setPassword(password),
    delete: async (account) => {
      try {
        return await new AsyncEntry(KEYCHAIN_SERVICE, account).deletePassword()
      } catch (error) {
        // The crate reports a missing entry as an error; keytar answers false.
        if (/no (matching )?(entry|result)/i.test(firstLine(error))) return false
        throw error
      }
    },
  }
}

export interface Loaded {
  primary?: KeychainBackend
  /** The other binding, for reads that miss in the primary one (see above). */
  secondary?: KeychainBackend
  state: KeychainState
}

/**
 * Which bindings load here; decided once per process. CCRED_KEYCHAIN_BACKEND=keytar or
 * =@napi-rs/keyring allows only that one (any other value: neither), to diagnose one
 * binding or to see what an install without keytar does.
 */
function loadBackends(env: Record<string, string | undefined>, os: NodeJS.Platform, securityPath: string = SECURITY_PATH): Loaded {
  const forced = env.CCRED_KEYCHAIN_BACKEND
  const problems: string[] = []
  const fixes: string[] = []
  const attempt = (name: 'keytar' | '@napi-rs/keyring', load: () => KeychainBackend): KeychainBackend | undefined => {
    if (forced !== undefined && forced !== '' && forced !== name) return undefined
    try {
      return load()
    } catch (error) {
      const problem = bindingLoadProblem(name, error, os)
      problems.push(problem.detail)
      fixes.push(problem.fix)
      return undefined
    }
  }
  if (forced !== undefined && forced !== '' && forced !== 'keytar' && forced !== '@napi-rs/keyring' && forced !== 'security') {
    problems.push(`CCRED_KEYCHAIN_BACKEND=${forced.slice(0, 40)} allows neither keytar nor @napi-rs/keyring`)
    fixes.push('unset CCRED_KEYCHAIN_BACKEND (or set it to keytar, @napi-rs/keyring or, on macOS, security)')
  }
  // macOS: Apple's signed tool first, so the item's trusted identity survives node upgrades.
  const security = os === 'darwin' && (forced === undefined || forced === '' || forced === 'security') && existsSync(securityPath) ? securityCliBackend(securityPath) : undefined
  // The executable carries only @napi-rs/keyring (keytar is built from source by npm install).
  const standalone = standaloneBuild() !== undefined
  const keytar = forced === 'security' || standalone ? undefined : attempt('keytar', loadKeytarBackend)
  const napi = forced === 'security' ? undefined : attempt('@napi-rs/keyring', loadNapiBackend)
  if (security !== undefined) {
    const loaded: Loaded = { state: { problems: [], backend: 'security' }, primary: security }
    const fallback = keytar ?? napi
    if (fallback !== undefined) loaded.secondary = fallback
    return loaded
  }
  const primary = keytar ?? napi
  const state: KeychainState = { problems }
  if (primary !== undefined) state.backend = primary.name
  // With the fallback serving, keytar's absence needs no fix: say why only when nothing serves.
  if (primary === undefined && fixes.length > 0) state.hint = fixes.join('; or ')
  const loaded: Loaded = { state }
  if (primary !== undefined) loaded.primary = primary
  if (keytar !== undefined && napi !== undefined) loaded.secondary = napi
  return loaded
}

/** For tests: the backends as this module picks them, with a stand-in for /usr/bin/security. */
export function loadKeychainBackends(env: Record<string, string | undefined>, os: NodeJS.Platform, securityPath?: string): Loaded {
  return loadBackends(env, os, securityPath)
}

let loadedOnce: Loaded | undefined

/** Native bindings are loaded on first use, never on the `get` client path. */
function backends(env: Record<string, string | undefined>, os: NodeJS.Platform): Loaded {
  loadedOnce ??= loadBackends(env, os)
  return loadedOnce
}

export class KeychainStore implements SecretStore {
  readonly kind = 'keychain' as const
  readonly #os: NodeJS.Platform
  readonly #loaded: () => Loaded

  /** `bindings`: the native bindings as loaded here (tests pass a binding that misbehaves as a real one has). */
  constructor(env: Record<string, string | undefined> = process.env, os: NodeJS.Platform = hostPlatform(env).os, bindings?: Loaded) {
    this.#os = os
    this.#loaded = bindings === undefined ? () => backends(env, os) : () => bindings
  }

  describe(): string {
    return `the OS keychain (service "${KEYCHAIN_SERVICE}")`
  }

  /** Which binding serves the keychain here, and why another could not; for `status` and `doctor`. */
  state(): KeychainState {
    return this.#loaded().state
  }

  availability(): StoreAvailability {
    const { backend, problems, hint } = this.state()
    if (backend === undefined) {
      return { ok: false, detail: `keychain unavailable: ${problems.join('; ')}`, hint: `${hint === undefined ? '' : `${hint}; `}or, on a headless machine with no Secret Service, opt in to a file store with \`store = "file"\` under [broker] (a 0600 file in ccred's data directory)` }
    }
    const availability: StoreAvailability = { ok: true, detail: `via ${backend}${problems.length === 0 ? '' : ` (${problems.join('; ')})`}` }
    if (hint !== undefined) availability.hint = hint
    return availability
  }

  #primary(): KeychainBackend {
    const { primary } = this.#loaded()
    if (primary === undefined) {
      const { detail, hint } = this.availability()
      throw new CcredError('ERR_KEYCHAIN_UNAVAILABLE', detail, hint === undefined ? {} : { hint })
    }
    return primary
  }

  async #call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(operation(), KEYCHAIN_TIMEOUT_MS, () => unavailable(this.#os, `${what} got no answer within ${KEYCHAIN_TIMEOUT_MS / 1000}s (is the keyring locked?)`))
    } catch (error) {
      if (error instanceof CcredError) throw error
      throw unavailable(this.#os, `${what} failed (${firstLine(error)})`, error)
    }
  }

  async get(name: string): Promise<string | undefined> {
    const primary = this.#primary()
    const value = await this.#call('reading a secret', () => primary.get(name))
    if (value !== null) return value
    const secondary = this.#loaded().secondary
    if (secondary === undefined) return undefined
    // Best effort: the fallback binding's own failures must not hide keytar's clean miss.
    try {
      return (await withDeadline(secondary.get(name), KEYCHAIN_TIMEOUT_MS, () => new Error('timeout'))) ?? undefined
    } catch {
      return undefined
    }
  }

  async set(name: string, value: string): Promise<void> {
    // Checked before the write: `ccred set` and `jwt keygen` say why, and nothing is half-written.
    const binding = this.#loaded().primary?.name
    const tooBig = credentialManagerLimitProblem(this.#os, binding === 'security' ? undefined : binding, value)
    if (tooBig !== undefined) throw tooBig
    const primary = this.#primary()
    await this.#call('storing a secret', () => primary.set(name, value))
    // Read back before anyone is told it is stored: a binding can accept a write it cannot keep
    // (the keyring crate without a Secret Service falls back to the kernel keyring, per session).
    const back = await this.#call('reading the secret back', () => primary.get(name))
    if (back !== value) {
      throw unavailable(this.#os, `${primary.name} accepted the secret but ${back === null ? 'does not return it' : 'returns a different value'} when read back, so it is not stored where ccred can find it`)
    }
  }

  async delete(name: string): Promise<boolean> {
    const primary = this.#primary()
    const deleted = await this.#call('deleting a secret', () => primary.delete(name))
    const secondary = this.#loaded().secondary
    if (secondary === undefined) return deleted
    // A copy filed under the fallback's attributes goes too, or a later get would find it again.
    try {
      return (await withDeadline(secondary.delete(name), KEYCHAIN_TIMEOUT_MS, () => new Error('timeout'))) || deleted
    } catch {
      return deleted
    }
  }
}
