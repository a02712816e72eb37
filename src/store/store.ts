/** Where secrets live at rest: the OS keychain, or a file the user opted into. */
export interface SecretStore {
  readonly kind: 'keychain' | 'file' | 'memory'
  /** For status and messages, e.g. "the OS keychain (service ccred)". Never a secret. */
  describe(): string
  /** What serves the store here and what is wrong with it (the keychain's native binding); for status and doctor. */
  availability?(): StoreAvailability
  get(name: string): Promise<string | undefined>
  set(name: string, value: string): Promise<void>
  delete(name: string): Promise<boolean>
}

/** The keychain service name every ccred secret is filed under. */
export const KEYCHAIN_SERVICE = 'ccred'

export interface StoreAvailability {
  /** The store can be used (a secret may still be missing or the keyring locked). */
  ok: boolean
  /** One line, e.g. "via keytar" or "keychain unavailable: keytar could not be loaded (…)". */
  detail: string
  /** What to do about it, when something is wrong. */
  hint?: string
}
