import type { SourceDeps } from '../../src/sources/source.js'
import { MemoryStore } from '../../src/store/memory.js'
import type { SecretStore } from '../../src/store/store.js'

/** What a source under test is built with: a memory store and no Vault. */
export function testSourceDeps(store: SecretStore = new MemoryStore()): SourceDeps {
  return { store: () => store, shared: () => Promise.reject(new Error('this test has no shared resources (Vault)')) }
}
