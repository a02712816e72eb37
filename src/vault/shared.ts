import type { SharedResource } from '../config/shared-resources.js'
import { defaultVaultConnection, vaultConnection, type VaultConnectionConfig } from './config.js'
import type { VaultConnections } from './connections.js'

/**
 * Vault as a shared resource: `[vault]` is the default connection (of `vault:`
 * references and of vault profiles without their own), and the service keeps one
 * client and one token per connection. node-vault loads on first use only.
 */
export const vaultResource: SharedResource<VaultConnectionConfig, VaultConnections> = {
  table: 'vault',
  settings: vaultConnection(),
  defaults: defaultVaultConnection,
  referenceKind: 'vault',
  async open(deps) {
    const { VaultConnections } = await import('./connections.js')
    // The auth table's own references: env:, file:, keychain: (config parsing refuses vault: there).
    return new VaultConnections({ clock: deps.clock, env: deps.env, homeDir: deps.homeDir, readFile: deps.readFile, resolveSecret: deps.resolveSecret })
  },
  readReference(connections, settings, target, where) {
    return connections.readReference(settings, target, where)
  },
  retain(connections, live) {
    connections.retain(live)
  },
  close(connections) {
    connections.close()
  },
}
