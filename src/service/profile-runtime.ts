import { homedir } from 'node:os'
import type { Clock } from '../clock.js'
import type { LoadedConfig, ProfileConfig } from '../profiles/load.js'
import { readTrustedFile, type TrustedFileKind } from '../config/file-trust.js'
import { readSecretFile, resolveReference, type Reference, type ReferenceDeps } from '../config/references.js'
import type { FetchContext, SourceDeps } from '../sources/source.js'
import { openStore } from '../store/open.js'
import type { SecretStore } from '../store/store.js'
import type { VaultConnectionConfig } from '../vault/config.js'
import type { VaultConnections } from '../vault/connections.js'
import type { BrokerProfile } from '../broker/broker.js'
import { secretPartsOf } from '../text/redact.js'
import type { ConfigSnapshot } from './config-snapshot.js'

export interface ProfileRuntimeOptions {
  env: Record<string, string | undefined>
  clock: Clock
  config: ConfigSnapshot
  /** Tests inject a store; otherwise [broker] store picks one. */
  store?: SecretStore
}

/**
 * What profiles run with: their sources, built once per config version with
 * their dependencies (the secret store, the Vault connections, a reference
 * resolver), and those shared parts themselves.
 */
export class ProfileRuntime {
  readonly #options: ProfileRuntimeOptions
  #store: SecretStore | undefined
  readonly #profiles = new Map<string, BrokerProfile>()
  /** Loaded on first use of Vault, so other profiles never load node-vault. */
  #vault: Promise<VaultConnections> | undefined
  /** What each profile's references resolved to lately: secrets its messages must not quote (FetchContext.secrets). */
  readonly #resolved = new Map<string, string[]>()

  constructor(options: ProfileRuntimeOptions) {
    this.#options = options
  }

  /** A new config loaded: drops what it no longer describes (sources of edited profiles, a store it no longer names, unused Vault connections). */
  configLoaded(loaded: LoadedConfig, previous: LoadedConfig | undefined): void {
    if (previous?.broker.store !== loaded.broker.store && this.#options.store === undefined) this.#store = undefined
    for (const [name, built] of this.#profiles) {
      const profile = loaded.profiles.get(name)
      if (profile === undefined || profileKey(profile) !== built.key) this.#profiles.delete(name)
    }
    if (this.#vault !== undefined) {
      const live = vaultConnectionsOf(loaded)
      void this.#vault.then((connections) => connections.retain(live), () => undefined)
    }
  }

  store(): SecretStore {
    if (this.#options.store !== undefined) return this.#options.store
    this.#store ??= openStore(this.#options.config.latest?.broker.store ?? 'keychain', this.#options.env)
    return this.#store
  }

  /** The Vault connections of this service: one client and one token per connection, kept alive while in use. */
  vaultConnections(): Promise<VaultConnections> {
    this.#vault ??= import('../vault/connections.js').then(({ VaultConnections }) => {
      const env = this.#options.env
      return new VaultConnections({
        clock: this.#options.clock,
        env,
        homeDir: env.HOME || homedir(),
        // Token files and the CA: a file another user could replace is refused, like a file: secret.
        readFile: async (path) => readTrustedFile(path, VAULT_FILE),
        // The auth table's own references: env:, file:, keychain: (config parsing refuses vault: there).
        // A keychain secret of an auth table is stored through any vault profile that uses it (ccred set <profile>).
        resolveSecret: (ref: Reference, where: string) => resolveReference(ref, where, this.#referenceDeps(false), '<vault profile>'),
      })
    })
    return this.#vault
  }

  /** What every source is built with. */
  sourceDeps(): SourceDeps {
    return { store: () => this.store(), vaultConnections: () => this.vaultConnections() }
  }

  /** What a source of this profile fetches with: the clock and the profile's reference resolver. */
  fetchContext(profile: ProfileConfig): FetchContext {
    return {
      profile: profile.name,
      clock: this.#options.clock,
      resolve: async (ref, configKey) => {
        const value = await resolveReference(ref, `profiles.${profile.name}.${configKey}`, this.#referenceDeps(true), profile.name)
        this.#remember(profile.name, value)
        return value
      },
      secrets: () => this.#resolved.get(profile.name) ?? [],
    }
  }

  #remember(profileName: string, value: string): void {
    const known = this.#resolved.get(profileName) ?? []
    const fresh = secretPartsOf(value).filter((part) => !known.includes(part))
    if (fresh.length === 0) return
    // A profile reads a handful of references; old values are kept a while (a helper may quote the one before).
    this.#resolved.set(profileName, [...fresh, ...known].slice(0, MAX_REMEMBERED_SECRETS))
  }

  /** The profile as the broker runs it, built once per config version of the profile. */
  brokerProfile(profile: ProfileConfig): BrokerProfile {
    const key = profileKey(profile)
    const existing = this.#profiles.get(profile.name)
    if (existing !== undefined && existing.key === key) return existing
    const built: BrokerProfile = {
      key,
      name: profile.name,
      sourceKind: profile.sourceKind,
      header: profile.header,
      source: profile.definition.create(profile.options, this.sourceDeps()),
      context: this.fetchContext(profile),
    }
    this.#profiles.set(profile.name, built)
    return built
  }

  async close(): Promise<void> {
    await this.#vault?.then((connections) => connections.close(), () => undefined)
  }

  /** What references resolve with; `withVault`: `vault:` references too (never inside Vault's own auth). */
  #referenceDeps(withVault: boolean): ReferenceDeps {
    const env = this.#options.env
    const store = this.store()
    const deps: ReferenceDeps = {
      env,
      homeDir: env.HOME || homedir(),
      readFile: readSecretFile,
      storeGet: (secretName) => store.get(secretName),
      storeDescription: store.describe(),
    }
    if (withVault) {
      deps.readVault = async (target, where) => {
        const config = await this.#options.config.current()
        return (await this.vaultConnections()).readReference(config.vault, target, where)
      }
    }
    return deps
  }
}

/** Resolved secrets remembered per profile for redaction. */
const MAX_REMEMBERED_SECRETS = 16

/** A file Vault's connection reads (a token file, the CA bundle): the secret-file rules, with room for a CA bundle. */
const VAULT_FILE: TrustedFileKind = {
  label: 'Vault file',
  code: 'ERR_CONFIG',
  maxBytes: 1024 * 1024,
  fixPath: 'point it at a regular file',
  fixSize: 'a token file or a CA bundle is far smaller: check the path',
  stickyParentIsFine: true,
}

/** What identifies a profile's credential in the broker: a config edit changes it. */
export function profileKey(profile: ProfileConfig): string {
  return `${profile.name}#${profile.hash}`
}

/** The Vault connections a config uses: [vault] and those profiles talk to themselves. */
function vaultConnectionsOf(config: LoadedConfig): VaultConnectionConfig[] {
  const connections = [config.vault]
  for (const profile of config.profiles.values()) {
    const connection = profile.definition.vaultConnection?.(profile.options)
    if (connection !== undefined) connections.push(connection)
  }
  return connections
}
