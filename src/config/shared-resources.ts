import type { Clock } from '../clock.js'
import type { Field } from './schema.js'
import type { Reference } from './references.js'

/**
 * A connection the service keeps once and lends to every profile that uses it
 * (Vault is the first: one client and one token per connection). The resource
 * declares its top-level config table, how it is opened, and how it reads a
 * reference of its own kind; a profile that uses it (through its source or a
 * reference) gets the table in its cache key, so an edit of the table re-keys it.
 * Config loading and the profile runtime know resources only through this contract.
 */
export interface SharedResource<Settings = unknown, Resource = unknown> {
  /** The top-level table with the default settings, e.g. `vault` for `[vault]`. */
  readonly table: string
  /** Reads that table (problems collected like any other table). */
  readonly settings: Field<Settings>
  /** The settings when the table is left out. */
  defaults(): Settings
  /** References of this kind (`vault:`) are read through this resource, with the table's settings. */
  readonly referenceKind?: Reference['kind']
  /** Builds the resource on first use; heavy clients are imported here, never at load. */
  open(deps: SharedResourceDeps): Promise<Resource>
  /** Reads a reference of `referenceKind`. */
  readReference?(resource: Resource, settings: Settings, target: string, where: string): Promise<string>
  /** A new config: keep only the parts these settings describe (the table's and those profiles use). */
  retain?(resource: Resource, live: Settings[]): void
  close(resource: Resource): Promise<void> | void
}

/** What a shared resource is opened with: the service's environment, never a profile's. */
export interface SharedResourceDeps {
  clock: Clock
  env: Record<string, string | undefined>
  homeDir: string
  readFile(path: string): Promise<string>
  /** Resolves a reference in the resource's own settings (its login secrets); never one of its own kind. */
  resolveSecret(ref: Reference, where: string): Promise<string>
}

/** A profile's use of a shared resource, with the settings it uses (the table's, or its own). */
export interface SharedUse<Settings = unknown> {
  resource: SharedResource<Settings, unknown>
  settings: Settings
}

/** The settings of each shared resource a config declares (its table, or the defaults when left out). */
export class SharedSettings {
  readonly #settings: Map<SharedResource<any, any>, unknown>

  constructor(settings: Map<SharedResource<any, any>, unknown>) {
    this.#settings = settings
  }

  /** Every resource with its defaults: a config with none of their tables. */
  static defaults(resources: readonly SharedResource<any, any>[]): SharedSettings {
    return new SharedSettings(new Map(resources.map((resource) => [resource, resource.defaults()])))
  }

  get resources(): SharedResource<any, any>[] {
    return [...this.#settings.keys()]
  }

  of<Settings>(resource: SharedResource<Settings, any>): Settings {
    if (!this.#settings.has(resource)) throw new TypeError(`shared resource [${resource.table}] is not registered with this config`)
    return this.#settings.get(resource) as Settings
  }
}
