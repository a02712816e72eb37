import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { systemClock, type Clock } from '../clock.js'
import { findCaller } from '../claude/caller.js'
import { isClaudeCodeHelperRun } from '../claude/helper-context.js'
import { configStamp, DEFAULT_BROKER, loadConfig, type Header, type LoadedConfig, type ProfileConfig } from '../config/load.js'
import { auditLogPath, configPath } from '../config/paths.js'
import { readSecretFile, resolveReference, type Reference, type ReferenceDeps } from '../config/references.js'
import { AuditLog } from '../daemon/audit.js'
import { CcredError } from '../errors.js'
import type { CredentialRequest, IssuedCredential, ProfileListing, ProfileStatus, ServiceStatus } from '../protocol.js'
import { openStore } from '../store/open.js'
import type { FetchContext } from '../sources/source.js'
import type { SecretStore } from '../store/store.js'
import { defaultVaultConnection, type VaultConnectionConfig } from '../vault/config.js'
import type { VaultConnections } from '../vault/connections.js'
import { Broker, type BrokerProfile } from './broker.js'

export interface ServiceOptions {
  env: Record<string, string | undefined>
  clock: Clock
  configPath: string
  /** The path came from CCRED_CONFIG: a missing file is an error, not the embedded default. */
  explicitConfig: boolean
  auditPath?: string
  /** Tests inject a store; otherwise [broker] store picks one. */
  store?: SecretStore
}

/**
 * The use case behind `get`, `status` and `profiles`, shared by the daemon and
 * the in-process fallback: keeps the config fresh, builds sources, and asks the
 * broker.
 */
export class CredentialService {
  readonly broker: Broker
  readonly #options: ServiceOptions
  #config: LoadedConfig | undefined
  #configError: CcredError | undefined
  /** A config loaded successfully at least once: it keeps serving while the file is broken. */
  #loadedOnce = false
  #loading: Promise<void> | undefined
  #store: SecretStore | undefined
  readonly #profiles = new Map<string, BrokerProfile>()
  #audit: AuditLog | undefined
  /** Loaded on first use of Vault, so other profiles never load node-vault. */
  #vault: Promise<VaultConnections> | undefined

  constructor(options: ServiceOptions) {
    this.#options = options
    this.broker = new Broker({
      clock: options.clock,
      settings: () => this.#config?.broker ?? DEFAULT_BROKER,
      onEvent: (event) => {
        if (this.#config?.broker.audit !== false) this.#audit?.record(event)
      },
    })
    if (options.auditPath !== undefined) this.#audit = new AuditLog(options.auditPath, () => options.clock.now())
  }

  get configPath(): string {
    return this.#options.configPath
  }

  /** Reloads when the file changed (one stat per request: cheap, and exact for tests). */
  async config(): Promise<LoadedConfig> {
    const stamp = configStamp(this.#options.configPath)
    // A file version that failed to load keeps its stamp, so it is not parsed again until it changes.
    if (this.#config === undefined || this.#config.stamp !== stamp) {
      this.#loading ??= this.#reload().finally(() => { this.#loading = undefined })
      await this.#loading
    }
    if (this.#configError !== undefined && !this.#loadedOnce) throw this.#configError
    return this.#config!
  }

  async #reload(): Promise<void> {
    try {
      const loaded = await loadConfig(this.#options.configPath, { explicit: this.#options.explicitConfig })
      const storeChanged = this.#config?.broker.store !== loaded.broker.store
      this.#config = loaded
      this.#configError = undefined
      this.#loadedOnce = true
      if (storeChanged && this.#options.store === undefined) this.#store = undefined
      const keys = new Map([...loaded.profiles.values()].map((p) => [p.name, keyOf(p)]))
      this.broker.retain(keys)
      for (const [name, profile] of this.#profiles) if (keys.get(name) !== profile.key) this.#profiles.delete(name)
      if (this.#vault !== undefined) {
        const live = vaultConnectionsOf(loaded)
        void this.#vault.then((connections) => connections.retain(live), () => undefined)
      }
    } catch (error) {
      this.#configError = error instanceof CcredError ? error : new CcredError('ERR_CONFIG', String(error), { cause: error })
      // A config that loaded before keeps serving while the file is broken (a half-saved
      // edit must not take every profile down); status reports the error. Only a first
      // load with no good config behind it fails requests.
      // Remember which file version failed, so the next request does not re-parse it.
      this.#config = { ...(this.#config ?? emptyConfig(this.#options.configPath)), stamp: configStamp(this.#options.configPath) }
    }
  }

  store(): SecretStore {
    if (this.#options.store !== undefined) return this.#options.store
    this.#store ??= openStore(this.#config?.broker.store ?? 'keychain', this.#options.env)
    return this.#store
  }

  async profile(name: string): Promise<ProfileConfig> {
    const config = await this.config()
    const invalid = config.invalidProfiles.get(name)
    if (invalid !== undefined) throw invalid
    const profile = config.profiles.get(name)
    if (profile === undefined) {
      const known = [...config.profiles.keys(), ...config.invalidProfiles.keys()].sort()
      throw new CcredError('ERR_PROFILE_UNKNOWN', `no profile named "${name}" in ${config.fromFile ? config.path : 'the embedded default config'}${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}`, {
        hint: known.length > 0 ? `use one of: ${known.join(', ')}; or add [profiles.${name}] to ${config.path}` : `add [profiles.${name}] to ${config.path} (ccred init writes a starter file)`,
      })
    }
    return profile
  }

  #brokerProfile(profile: ProfileConfig): BrokerProfile {
    const key = keyOf(profile)
    const existing = this.#profiles.get(profile.name)
    if (existing !== undefined && existing.key === key) return existing
    const built: BrokerProfile = {
      key,
      name: profile.name,
      sourceKind: profile.sourceKind,
      header: profile.header,
      source: profile.definition.create(profile.options),
      context: this.fetchContext(profile),
    }
    this.#profiles.set(profile.name, built)
    return built
  }

  /** What a source of this profile fetches with: the clock, the profile's reference resolver, Vault. */
  fetchContext(profile: ProfileConfig): FetchContext {
    return {
      profile: profile.name,
      clock: this.#options.clock,
      resolve: (ref, configKey) => resolveReference(ref, `profiles.${profile.name}.${configKey}`, this.#referenceDeps(true), profile.name),
      vault: () => this.vaultConnections(),
      store: () => this.store(),
    }
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
        const config = await this.config()
        return (await this.vaultConnections()).readReference(config.vault, target, where)
      }
    }
    return deps
  }

  /** The Vault connections of this service: one client and one token per connection, kept alive while in use. */
  vaultConnections(): Promise<VaultConnections> {
    this.#vault ??= import('../vault/connections.js').then(({ VaultConnections }) => {
      const env = this.#options.env
      return new VaultConnections({
        clock: this.#options.clock,
        env,
        homeDir: env.HOME || homedir(),
        readFile: (path) => readFile(path, 'utf8'),
        // The auth table's own references: env:, file:, keychain: (config parsing refuses vault: there).
        // A keychain secret of an auth table is stored through any vault profile that uses it (ccred set <profile>).
        resolveSecret: (ref: Reference, where: string) => resolveReference(ref, where, this.#referenceDeps(false), '<vault profile>'),
      })
    })
    return this.#vault
  }

  async get(request: CredentialRequest): Promise<IssuedCredential> {
    const profile = await this.profile(request.profile)
    const caller = request.clientPid === undefined ? undefined : await findCaller(request.clientPid, request.clientParentPid)
    const claudeCode = isClaudeCodeHelperRun(request.caller, caller?.command)
    const result = await this.broker.get({
      profile: this.#brokerProfile(profile),
      callerTtlMs: request.callerTtlMs,
      ...(caller === undefined ? {} : { callerPid: caller.pid, callerCommand: caller.command }),
      ...(claudeCode ? { claudeCodeHook: request.caller?.hook ?? 'unknown' } : {}),
      forceRefresh: request.forceRefresh === true,
      interactive: request.interactive === true,
      ...(request.rejected === undefined ? {} : { rejected: request.rejected }),
      ...(request.clientStartedAtMs === undefined ? {} : { clientStartedAtMs: request.clientStartedAtMs }),
    })
    const issued: IssuedCredential = {
      profile: profile.name,
      source: profile.sourceKind,
      header: profile.header,
      value: result.credential.value,
      scheme: result.credential.scheme ?? 'Bearer',
      served: result.served,
    }
    if (result.credential.expiresAt !== undefined) issued.expiresAt = result.credential.expiresAt.toISOString()
    if (result.warning !== undefined) issued.warning = result.warning
    return issued
  }

  async listProfiles(): Promise<ProfileListing[]> {
    const config = await this.config()
    const listing: ProfileListing[] = [...config.profiles.values()].map((p) => ({
      name: p.name,
      source: p.sourceKind,
      header: p.header,
      ...(p.description === undefined ? {} : { description: p.description }),
    }))
    for (const [name, error] of config.invalidProfiles) listing.push({ name, source: '?', header: 'authorization', error: error.toJSON() })
    return listing.sort((a, b) => a.name.localeCompare(b.name))
  }

  async status(): Promise<ServiceStatus> {
    let configError: CcredError | undefined
    let config: LoadedConfig | undefined
    try {
      config = await this.config()
    } catch (error) {
      configError = error instanceof CcredError ? error : new CcredError('ERR_CONFIG', String(error), { cause: error })
    }
    // The file is broken but the last good config still serves: show why the edit did not apply.
    configError ??= this.#configError
    const cached = new Map(this.broker.status().map((s) => [s.profile, s]))
    const profiles: ServiceStatus['profiles'] = []
    for (const profile of config?.profiles.values() ?? []) {
      const status = cached.get(profile.name) ?? notAskedYet(profile.name, profile.sourceKind, profile.header)
      profiles.push(profile.description === undefined ? status : { ...status, description: profile.description })
    }
    for (const [name, error] of config?.invalidProfiles ?? []) {
      profiles.push({ ...notAskedYet(name, '?', 'authorization'), lastError: { code: error.code, message: error.message, at: '' } })
    }
    const store = this.store()
    return {
      config: { path: this.#options.configPath, fromFile: config?.fromFile ?? true, ...(configError === undefined ? {} : { error: configError.toJSON() }) },
      store: { kind: store.kind, description: store.describe(), ...(store.availability === undefined ? {} : { availability: store.availability() }) },
      audit: this.#audit !== undefined && config?.broker.audit !== false ? { path: this.#audit.path } : null,
      profiles: profiles.sort((a, b) => a.profile.localeCompare(b.profile)),
    }
  }

  purge(name: string): boolean {
    return this.broker.purge(name)
  }

  /** Stops refresh timers and flushes the audit log. */
  async close(): Promise<void> {
    this.broker.close()
    await this.#vault?.then((connections) => connections.close(), () => undefined)
    await this.#audit?.close()
  }
}

/** Status of a profile the broker has not served yet. */
function notAskedYet(profile: string, source: string, header: Header): ProfileStatus {
  return { profile, source, header, cached: false, refreshing: false, consecutiveFailures: 0, hits: 0, fetches: 0, reissues: 0 }
}

/** The Vault connections a config uses: [vault] and those of vault profiles with their own. */
function vaultConnectionsOf(config: LoadedConfig): VaultConnectionConfig[] {
  const connections = [config.vault]
  for (const profile of config.profiles.values()) {
    const connection = (profile.options as { connection?: VaultConnectionConfig } | undefined)?.connection
    if (profile.sourceKind === 'vault' && connection !== undefined) connections.push(connection)
  }
  return connections
}

function keyOf(profile: ProfileConfig): string {
  return `${profile.name}#${profile.hash}`
}

function emptyConfig(path: string): LoadedConfig {
  return { path, fromFile: true, broker: { ...DEFAULT_BROKER }, vault: defaultVaultConnection(), profiles: new Map(), invalidProfiles: new Map(), stamp: '' }
}

/** The service as the environment configures it: config file, audit log, the system clock. */
export function serviceForEnvironment(env: Record<string, string | undefined>): CredentialService {
  return new CredentialService({
    env,
    clock: systemClock,
    configPath: configPath(env),
    explicitConfig: Boolean(env.CCRED_CONFIG),
    auditPath: auditLogPath(env),
  })
}
