import { systemClock, type Clock } from '../clock.js'
import { HOST_OS } from '../platform.js'
import { ancestryReaderFor, type AncestryReader } from '../callers/ancestry.js'
import type { CallerDecision, CallerFacts } from '../callers/caller.js'
import { decideCaller, knownByMarks } from '../callers/registry.js'
import { DEFAULT_BROKER, type Header } from '../config/settings.js'
import { type LoadedConfig } from '../profiles/load.js'
import { auditLogPath, configPath } from '../config/paths.js'
import { credentialBody } from '../credential.js'
import { CcredError } from '../errors.js'
import type { CredentialRequest, IssuedCredential, ProfileListing, ProfileStatus, ServiceStatus } from '../protocol.js'
import { headerSetBody } from '../output/headers.js'
import type { SecretStore } from '../store/store.js'
import { AuditLog } from '../broker/audit.js'
import { Broker, type BrokerProfile, type GetRequest } from '../broker/broker.js'
import { ConfigSnapshot } from './config-snapshot.js'
import { ProfileRuntime, profileKey } from './profile-runtime.js'

export interface ServiceOptions {
  env: Record<string, string | undefined>
  clock: Clock
  configPath: string
  /** The path came from CCRED_CONFIG: a missing file is an error, not the embedded default. */
  explicitConfig: boolean
  auditPath?: string
  /** Tests inject a store; otherwise [broker] store picks one. */
  store?: SecretStore
  /** How process ancestry is read (tests pass another platform's reader); default: this OS's. */
  ancestry?: AncestryReader
  /** The daemon's log: told once when process ancestry cannot be read (status says it too). */
  log?: (line: string) => void
}

/**
 * The use case behind `get`, `status` and `profiles`, shared by the daemon and
 * the in-process fallback: asks the broker for a profile of the current config,
 * and reports status. The config snapshot and the profile runtime do the rest.
 */
export class CredentialService {
  readonly #broker: Broker
  readonly config: ConfigSnapshot
  readonly runtime: ProfileRuntime
  readonly #audit: AuditLog | undefined
  readonly #ancestry: AncestryReader

  constructor(options: ServiceOptions) {
    this.#ancestry = options.ancestry ?? ancestryReaderFor(HOST_OS, { onProblem: (problem) => options.log?.(`ccred daemon: caller lookup: ${problem}`) })
    this.config = new ConfigSnapshot({
      path: options.configPath,
      explicit: options.explicitConfig,
      onLoad: (loaded, previous) => {
        this.#broker.retain(new Map([...loaded.profiles.values()].map((p) => [p.name, profileKey(p)])))
        this.runtime.configLoaded(loaded, previous)
      },
    })
    this.runtime = new ProfileRuntime({ env: options.env, clock: options.clock, config: this.config, ...(options.store === undefined ? {} : { store: options.store }) })
    this.#broker = new Broker({
      clock: options.clock,
      settings: () => this.config.latest?.broker ?? DEFAULT_BROKER,
      onEvent: (event) => {
        if (this.config.latest?.broker.audit !== false) this.#audit?.record(event)
      },
    })
    if (options.auditPath !== undefined) this.#audit = new AuditLog(options.auditPath, () => options.clock.now())
  }

  async get(request: CredentialRequest): Promise<IssuedCredential> {
    const profile = await this.config.profile(request.profile)
    const facts = await this.#callerFacts(request)
    const result = await this.#broker.get(brokerRequestFor(this.runtime.brokerProfile(profile), decideCaller(facts, profile.header), facts, request))
    const issued: IssuedCredential = {
      profile: profile.name,
      source: profile.sourceKind,
      header: profile.header,
      served: result.served,
      // get --format headers: the profile's header set, rendered here where the profile's templates are.
      ...(request.headerSet === true ? headerSetBody(result.credential, profile) : credentialBody(result.credential)),
    }
    if (result.credential.expiresAt !== undefined) issued.expiresAt = result.credential.expiresAt.toISOString()
    const warnings = result.warning === undefined ? [] : [result.warning]
    // The last good config keeps serving while the file is broken (as designed), but the caller is told.
    const broken = this.config.error
    if (broken !== undefined) {
      warnings.unshift(`${this.config.path} is broken, serving its last good version: ${broken.message.replace(/\s*\n\s*/g, ' ')} [${broken.code}]${broken.hint === undefined ? '' : ` — ${broken.hint}`}`)
    }
    if (warnings.length > 0) issued.warning = warnings.join('; ')
    return issued
  }

  /** What the request and the process ancestry say about who ran the client (src/callers/ decides what it means). */
  async #callerFacts(request: CredentialRequest): Promise<CallerFacts> {
    const facts: CallerFacts = { marks: request.callerMarks ?? {}, headerSet: request.headerSet === true, interactive: request.interactive === true }
    if (request.clientParentPid !== undefined) facts.parentPid = request.clientParentPid
    if (request.callerTtlMs !== undefined) facts.statedTtlMs = request.callerTtlMs
    if (request.rejected !== undefined) facts.statedRejected = request.rejected
    if (request.clientPid === undefined) return facts
    // /proc costs microseconds and names the caller in the audit log; a `ps` spawn is saved when the marks suffice.
    if (this.#ancestry.method === 'ps' && knownByMarks(facts)) return facts
    const { parent, caller } = await this.#ancestry.lookup(request.clientPid, request.clientParentPid)
    if (parent !== undefined) facts.parent = { pid: parent.pid, command: parent.command }
    if (caller !== undefined) facts.process = { pid: caller.pid, command: caller.command }
    return facts
  }

  async listProfiles(): Promise<ProfileListing[]> {
    const config = await this.config.current()
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
      config = await this.config.current()
    } catch (error) {
      configError = error instanceof CcredError ? error : new CcredError('ERR_CONFIG', String(error), { cause: error })
    }
    // The file is broken but the last good config still serves: show why the edit did not apply.
    configError ??= this.config.error
    const cached = new Map(this.#broker.status().map((s) => [s.profile, s]))
    const profiles: ServiceStatus['profiles'] = []
    for (const profile of config?.profiles.values() ?? []) {
      const status = cached.get(profile.name) ?? notAskedYet(profile.name, profile.sourceKind, profile.header)
      profiles.push(profile.description === undefined ? status : { ...status, description: profile.description })
    }
    for (const [name, error] of config?.invalidProfiles ?? []) {
      profiles.push({ ...notAskedYet(name, '?', 'authorization'), lastError: { code: error.code, message: error.message, at: '' } })
    }
    const store = this.runtime.store()
    return {
      ...(this.#ancestry.problem === undefined ? {} : { callers: { ancestry: this.#ancestry.method, problem: this.#ancestry.problem } }),
      config: { path: this.config.path, fromFile: config?.fromFile ?? true, ...(configError === undefined ? {} : { error: configError.toJSON() }) },
      store: { kind: store.kind, description: store.describe(), ...(store.availability === undefined ? {} : { availability: store.availability() }) },
      audit: this.#audit !== undefined && config?.broker.audit !== false ? { path: this.#audit.path } : null,
      profiles: profiles.sort((a, b) => a.profile.localeCompare(b.profile)),
    }
  }

  purge(name: string): boolean {
    return this.#broker.purge(name)
  }

  /** Stops refresh timers, closes Vault connections and flushes the audit log. */
  async close(): Promise<void> {
    this.#broker.close()
    await this.runtime.close()
    await this.#audit?.close()
  }
}

/** The broker's request for one caller: its kind's decision and the request's own facts, never the agent's name. */
export function brokerRequestFor(profile: BrokerProfile, decision: CallerDecision, facts: CallerFacts, request: Pick<CredentialRequest, 'forceRefresh' | 'clientStartedAtMs'>): GetRequest {
  return {
    profile,
    callerTtlMs: decision.callerTtlMs,
    ...(decision.callerKey === undefined ? {} : { callerKey: decision.callerKey }),
    ...(facts.process === undefined ? {} : { callerPid: facts.process.pid, callerCommand: facts.process.command }),
    ...(decision.reissueOnQuickRepeat === undefined ? {} : { reissueOnQuickRepeat: decision.reissueOnQuickRepeat }),
    ...(decision.rejected === undefined ? {} : { rejected: decision.rejected }),
    shortLifetimeAdvice: decision.shortLifetimeAdvice,
    forceRefresh: request.forceRefresh === true,
    ...(request.clientStartedAtMs === undefined ? {} : { clientStartedAtMs: request.clientStartedAtMs }),
  }
}

/** Status of a profile the broker has not served yet. */
function notAskedYet(profile: string, source: string, header: Header): ProfileStatus {
  return { profile, source, header, cached: false, refreshing: false, consecutiveFailures: 0, hits: 0, fetches: 0, reissues: 0 }
}

/** The service as the environment configures it: config file, audit log, the system clock. */
export function serviceForEnvironment(env: Record<string, string | undefined>, log?: (line: string) => void): CredentialService {
  return new CredentialService({
    ...(log === undefined ? {} : { log }),
    env,
    clock: systemClock,
    configPath: configPath(env),
    explicitConfig: Boolean(env.CCRED_CONFIG),
    auditPath: auditLogPath(env),
  })
}
