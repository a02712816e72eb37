import { CcredError } from '../errors.js'

/**
 * What each OS's keychain needs said when it fails, and the one limit it has that
 * ccred can check before writing. Pure: the OS is a parameter, so these rules are
 * unit-tested on Linux (docs/platforms.md).
 */

/** Windows Credential Manager keeps at most 2,560 bytes of secret per credential (CRED_MAX_CREDENTIAL_BLOB_SIZE). */
export const CREDENTIAL_MANAGER_MAX_BYTES = 2560

/**
 * keytar writes the secret to Credential Manager as UTF-8; @napi-rs/keyring (the
 * `keyring` crate) as UTF-16, twice the bytes for ASCII: a 2048-bit RSA key in PEM
 * (about 1.7 KB) fits one and not the other.
 */
export function credentialManagerBytes(backend: 'keytar' | '@napi-rs/keyring' | undefined, secret: string): number {
  return backend === '@napi-rs/keyring' ? Buffer.byteLength(secret, 'utf16le') : Buffer.byteLength(secret, 'utf8')
}

/** A clear error before the write when the secret cannot fit (the OS would answer with a bare "stub received bad data"). */
export function credentialManagerLimitProblem(os: NodeJS.Platform, backend: 'keytar' | '@napi-rs/keyring' | undefined, secret: string): CcredError | undefined {
  if (os !== 'win32') return undefined
  const bytes = credentialManagerBytes(backend, secret)
  if (bytes <= CREDENTIAL_MANAGER_MAX_BYTES) return undefined
  return new CcredError('ERR_KEYCHAIN_UNAVAILABLE', `the secret is ${bytes} bytes as ${backend ?? 'the keychain binding'} stores it, over Windows Credential Manager's limit of ${CREDENTIAL_MANAGER_MAX_BYTES} bytes; nothing was stored`, {
    hint: 'use a smaller key (ccred jwt keygen --alg ES256 makes a ~240-byte one), or opt in to a file store with `store = "file"` under [broker]',
  })
}

/** How keytar is rebuilt where it failed to load. */
export function keytarFix(os: NodeJS.Platform): string {
  return os === 'linux'
    ? 'to build keytar: apt-get install libsecret-1-dev (or your distribution\'s libsecret development package), then run `npm rebuild keytar` in the directory ccred is installed in'
    : 'reinstall ccred (npm install -g) so that keytar is built for this Node'
}

export type KeychainBindingName = 'keytar' | '@napi-rs/keyring'

/** Why a native binding did not load, in the user's terms, and the command that fixes exactly that. */
export interface BindingLoadProblem {
  /** One line, e.g. "keytar is not installed (npm skips it when it cannot build it)". */
  detail: string
  fix: string
}

/** Every message in an error's cause chain (napi-rs puts the real load errors there). */
function causeMessages(error: unknown): string[] {
  const messages: string[] = []
  for (let at: unknown = error, depth = 0; at !== undefined && at !== null && depth < 10; depth++) {
    messages.push(at instanceof Error ? at.message : String(at))
    at = at instanceof Error ? at.cause : undefined
  }
  return messages
}

/**
 * Reads a binding's load failure. The fixes differ by cause, and a wrong one does
 * nothing: `npm rebuild keytar` prints success and changes nothing where npm never
 * installed keytar (its build failed and it is optional), and napi-rs's own text
 * ("npm has a bug related to optional dependencies…") hides a missing
 * VCRUNTIME140.dll on Windows behind a cause chain.
 */
export function bindingLoadProblem(name: KeychainBindingName, error: unknown, os: NodeJS.Platform): BindingLoadProblem {
  const messages = causeMessages(error)
  const all = messages.join('\n')
  const code = (error as { code?: unknown } | null)?.code
  const reinstall = 'reinstall ccred with its optional dependencies (npm install -g ccred, without --omit=optional)'
  if (name === 'keytar') {
    if (code === 'MODULE_NOT_FOUND' && /Cannot find module '?keytar'?(\s|$)/.test(messages[0] ?? '')) {
      return {
        detail: 'keytar is not installed (npm skips it when it cannot build it)',
        fix: os === 'linux'
          ? 'apt-get install libsecret-1-dev (keytar builds against it), then reinstall ccred: npm install -g ccred'
          : 'reinstall ccred so npm builds keytar: npm install -g ccred',
      }
    }
    if (/libsecret-1\.so/.test(all)) return { detail: 'keytar cannot find libsecret at run time', fix: 'apt-get install libsecret-1-0 (or your distribution\'s libsecret package)' }
    return { detail: `keytar could not be loaded (${messages[0]!.split('\n')[0]})`, fix: keytarFix(os) }
  }
  if (os === 'win32' && /specified module could not be found|VCRUNTIME140/i.test(all)) {
    return {
      detail: '@napi-rs/keyring cannot load: a DLL it needs is missing (VCRUNTIME140.dll, the Microsoft Visual C++ runtime)',
      fix: 'install the Microsoft Visual C++ Redistributable 2015-2022 (x64): winget install Microsoft.VCRedist.2015+.x64',
    }
  }
  const missingPackage = /Cannot find module '(@napi-rs\/keyring-[\w-]+)/.exec(all)
  if (missingPackage !== null) return { detail: `@napi-rs/keyring's prebuilt binding for this platform (${missingPackage[1]}) is not installed`, fix: reinstall }
  const real = messages.find((message) => !/npm has a bug/.test(message)) ?? messages[0]!
  return { detail: `@napi-rs/keyring could not be loaded (${real.split('\n')[0]})`, fix: reinstall }
}

/**
 * What to do when the keychain failed with `detail`. macOS ties a keychain item to
 * the program that created it: after a node upgrade the keychain asks again (a
 * dialog a helper run cannot answer), and over SSH the login keychain is locked
 * and may not prompt at all (errSecInteractionNotAllowed, -25308).
 */
export function keychainHint(os: NodeJS.Platform, detail: string): string {
  const fileStore = 'or opt in to a file store with `store = "file"` under [broker]'
  if (os === 'linux') {
    return /locked/i.test(detail)
      ? `unlock your login keyring (e.g. log in to the desktop session, or: gnome-keyring-daemon --unlock); ${fileStore}`
      : `run a Secret Service such as gnome-keyring in your session (and install libsecret-1-0); ${fileStore}`
  }
  if (os === 'darwin') {
    if (/-25308|interaction (is )?not allowed/i.test(detail)) {
      return `the keychain is locked and cannot ask (over SSH, or with no one logged in to the desktop): run security unlock-keychain ~/Library/Keychains/login.keychain-db, then try again; ${fileStore}`
    }
    if (/-128|-25293|user (canceled|cancelled)|denied|authoriz/i.test(detail)) {
      return `the keychain refused access to node: run the command at the Mac and choose "Always Allow" in the keychain dialog (it asks again after every node upgrade); ${fileStore}`
    }
    if (/no answer|timed? ?out/i.test(detail)) {
      return `a keychain dialog may be waiting on the Mac's screen (after a node upgrade it asks again: choose "Always Allow"); over SSH, run security unlock-keychain ~/Library/Keychains/login.keychain-db first; ${fileStore}`
    }
    return `unlock the login keychain (security unlock-keychain ~/Library/Keychains/login.keychain-db); ${fileStore}`
  }
  if (os === 'win32') return `check that Windows Credential Manager works for your account (Control Panel > Credential Manager); ${fileStore}`
  return `unlock the OS keychain; ${fileStore}`
}
