import { homedir } from 'node:os'
import type { Clock } from '../clock.js'
import type { LoadedConfig, ProfileConfig } from '../profiles/load.js'
import { readTrustedFile, type TrustedFileKind } from '../config/file-trust.js'
import { readSecretFile, resolveReference, type Reference, type ReferenceDeps } from '../config/references.js'
import type { SharedResource, SharedSettings } from '../config/shared-resources.js'
import type { FetchContext, SourceDeps } from '../sources/source.js'
import { openStore } from '../store/open.js'
import type { SecretStore } from '../store/store.js'
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
 * their dependencies (the secret store, the shared resources such as Vault's
 * connections, a reference resolver), and those shared parts themselves.
 */
export class ProfileRuntime {
  readonly #options: ProfileRuntimeOptions
  #store: SecretStore | undefined
  readonly #profiles = new Map<string, BrokerProfile>()
  /** Each opened on first use (Vault: so other profiles never load node-vault). */
  readonly #shared = new Map<SharedResource<any, any>, Promise<unknown>>()
  /** What each profile's references resolved to lately: secrets its messages must not quote (FetchContext.secrets). */
  readonly #resolved = new Map<string, string[]>()

  constructor(options: ProfileRuntimeOptions) {
    this.#options = options
  }

  /** A new config loaded: drops what it no longer describes (sources of edited profiles, a store it no longer names, unused shared connections). */
  configLoaded(loaded: LoadedConfig, previous: LoadedConfig | undefined): void {
    if (previous?.broker.store !== loaded.broker.store && this.#options.store === undefined) this.#store = undefined
    for (const [name, built] of this.#profiles) {
      const profile = loaded.profiles.get(name)
      if (profile === undefined || profileKey(profile) !== built.key) this.#profiles.delete(name)
    }
    for (const [resource, opened] of this.#shared) {
      if (resource.retain === undefined) continue
      const live = settingsInUse(loaded, resource)
      void opened.then((value) => resource.retain!(value, live), () => undefined)
    }
  }

  store(): SecretStore {
    if (this.#options.store !== undefined) return this.#options.store
    this.#store ??= openStore(this.#options.config.latest?.broker.store ?? 'keychain', this.#options.env)
    return this.#store
  }

  /** A resource of this service shared by every profile (Vault: one client and one token per connection), opened on first use. */
  shared<Resource>(resource: SharedResource<any, Resource>): Promise<Resource> {
    let opened = this.#shared.get(resource)
    if (opened === undefined) {
      const env = this.#options.env
      opened = resource.open({
        clock: this.#options.clock,
        env,
        homeDir: env.HOME || homedir(),
        // Token files and the CA: a file another user could replace is refused, like a file: secret.
        readFile: async (path) => readTrustedFile(path, SHARED_RESOURCE_FILE),
        // The resource's own references: env:, file:, keychain: (its config refuses one of its own kind).
        // A keychain secret of Vault's auth table is stored through any vault profile that uses it (ccred set <profile>).
        resolveSecret: (ref: Reference, where: string) => resolveReference(ref, where, this.#referenceDeps(false), `<${resource.table} profile>`),
      })
      this.#shared.set(resource, opened)
    }
    return opened as Promise<Resource>
  }

  /** What every source is built with. */
  sourceDeps(): SourceDeps {
    return { store: () => this.store(), shared: (resource) => this.shared(resource) }
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
      source: profile.source.create(this.sourceDeps()),
      context: this.fetchContext(profile),
    }
    this.#profiles.set(profile.name, built)
    return built
  }

  async close(): Promise<void> {
    await Promise.all([...this.#shared].map(([resource, opened]) => opened.then((value) => resource.close(value), () => undefined)))
  }

  /** What references resolve with; `withShared`: references read through a shared resource (`vault:`) too, never inside a resource's own auth. */
  #referenceDeps(withShared: boolean): ReferenceDeps {
    const env = this.#options.env
    const store = this.store()
    const deps: ReferenceDeps = {
      env,
      homeDir: env.HOME || homedir(),
      readFile: readSecretFile,
      storeGet: (secretName) => store.get(secretName),
      storeDescription: store.describe(),
    }
    if (withShared) {
      deps.readVault = async (target, where) => {
        const { shared } = await this.#options.config.current()
        return this.#readThroughShared(shared, 'vault', target, where)
      }
    }
    return deps
  }

  /** A reference of `kind` read through the shared resource that declares that kind, with its table's settings. */
  async #readThroughShared(shared: SharedSettings, kind: Reference['kind'], target: string, where: string): Promise<string> {
    const resource = shared.resources.find((candidate) => candidate.referenceKind === kind && candidate.readReference !== undefined)
    if (resource === undefined) throw new TypeError(`no shared resource reads ${kind}: references`)
    return resource.readReference!(await this.shared(resource), shared.of(resource), target, where)
  }
}

/** Resolved secrets remembered per profile for redaction. */
const MAX_REMEMBERED_SECRETS = 16

/** A file a shared connection reads (Vault's token file, its CA bundle): the secret-file rules, with room for a CA bundle. */
const SHARED_RESOURCE_FILE: TrustedFileKind = {
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

/** The settings of a resource a config uses: its table's, and those profiles use themselves (a vault profile's own connection). */
function settingsInUse<Settings>(config: LoadedConfig, resource: SharedResource<Settings, any>): Settings[] {
  const live = [config.shared.of(resource)]
  for (const profile of config.profiles.values()) {
    for (const use of profile.source.sharedUses(config.shared)) if (use.resource === resource) live.push(use.settings as Settings)
  }
  return live
}
