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
