import type { SecretStore } from './store.js'

/** Keeps secrets in this process only; for tests and for callers that must not touch disk. */
export class MemoryStore implements SecretStore {
  readonly kind = 'memory' as const
  readonly #secrets = new Map<string, string>()

  describe(): string {
    return 'process memory'
  }

  async get(name: string): Promise<string | undefined> {
    return this.#secrets.get(name)
  }

  async set(name: string, value: string): Promise<void> {
    this.#secrets.set(name, value)
  }

  async delete(name: string): Promise<boolean> {
    return this.#secrets.delete(name)
  }
}
