/** Where secrets live at rest: the OS keychain, or a file the user opted into. */
export interface SecretStore {
  readonly kind: 'keychain' | 'file' | 'memory'
  /** For status and messages, e.g. "the OS keychain (service ccred)". Never a secret. */
  describe(): string
  get(name: string): Promise<string | undefined>
  set(name: string, value: string): Promise<void>
  delete(name: string): Promise<boolean>
}

/** The keychain service name every ccred secret is filed under. */
export const KEYCHAIN_SERVICE = 'ccred'
