import { dataDir } from '../config/paths.js'
import type { StoreKind } from '../config/settings.js'
import { FileStore } from './file.js'
import { KeychainStore } from './keychain.js'
import type { SecretStore } from './store.js'

export function openStore(kind: StoreKind, env: Record<string, string | undefined> = process.env): SecretStore {
  return kind === 'file' ? new FileStore(dataDir(env)) : new KeychainStore(env)
}
