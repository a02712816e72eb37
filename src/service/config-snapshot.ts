import { DEFAULT_BROKER } from '../config/settings.js'
import { BUILT_IN_CATALOG, configStamp, loadConfig, type LoadedConfig, type ProfileConfig } from '../profiles/load.js'
import { CcredError } from '../errors.js'
import { SharedSettings } from '../config/shared-resources.js'
import { closestName } from '../text/did-you-mean.js'

export interface ConfigSnapshotOptions {
  path: string
  /** The path came from CCRED_CONFIG: a missing file is an error, not the embedded default. */
  explicit: boolean
  /** Called after each successful load with the config it replaced (undefined on the first). */
  onLoad?(loaded: LoadedConfig, previous: LoadedConfig | undefined): void
}

/**
 * The config as the service sees it: loaded on first use, reloaded when the file
 * changes (one stat per request: cheap, and exact for tests), the last good one
 * kept while the file is broken, and the error of the broken one remembered.
 */
export class ConfigSnapshot {
  readonly #options: ConfigSnapshotOptions
  #config: LoadedConfig | undefined
  #error: CcredError | undefined
  /** A config loaded successfully at least once: it keeps serving while the file is broken. */
  #loadedOnce = false
  #loading: Promise<void> | undefined

  constructor(options: ConfigSnapshotOptions) {
    this.#options = options
  }

  get path(): string {
    return this.#options.path
  }

  /** The last good config, or undefined before the first good load. */
  get latest(): LoadedConfig | undefined {
    return this.#loadedOnce ? this.#config : undefined
  }

  /** Why the file on disk did not load, while an older good config still serves; undefined when it loaded. */
  get error(): CcredError | undefined {
    return this.#error
  }

  async current(): Promise<LoadedConfig> {
    const stamp = configStamp(this.#options.path)
    // A file version that failed to load keeps its stamp, so it is not parsed again until it changes.
    if (this.#config === undefined || this.#config.stamp !== stamp) {
      this.#loading ??= this.#reload().finally(() => { this.#loading = undefined })
      await this.#loading
    }
    if (this.#error !== undefined && !this.#loadedOnce) throw this.#error
    return this.#config!
  }

  /** A profile by name; an invalid one throws its config error, an unknown one says which exist. */
  async profile(name: string): Promise<ProfileConfig> {
    const config = await this.current()
    const invalid = config.invalidProfiles.get(name)
    if (invalid !== undefined) throw invalid
    const profile = config.profiles.get(name)
    if (profile === undefined) {
      const known = [...config.profiles.keys(), ...config.invalidProfiles.keys()].sort()
      const where = config.fromFile ? config.path : 'the embedded default config'
      const guess = closestName(name, known)
      throw new CcredError('ERR_PROFILE_UNKNOWN', `no profile named "${name}" in ${where}${guess === undefined ? '' : `; did you mean "${guess}"?`}`, {
        hint: known.length === 0
          ? `add [profiles.${name}] to ${config.path} (ccred init writes a starter file)`
          : `profiles in the config: ${known.join(', ')}; or add [profiles.${name}] to ${config.path}`,
      })
    }
    return profile
  }

  async #reload(): Promise<void> {
    try {
      const loaded = await loadConfig(this.#options.path, { explicit: this.#options.explicit })
      const previous = this.latest
      this.#config = loaded
      this.#error = undefined
      this.#loadedOnce = true
      this.#options.onLoad?.(loaded, previous)
    } catch (error) {
      this.#error = error instanceof CcredError ? error : new CcredError('ERR_CONFIG', String(error), { cause: error })
      // A config that loaded before keeps serving while the file is broken (a half-saved
      // edit must not take every profile down); status reports the error. Only a first
      // load with no good config behind it fails requests.
      // Remember which file version failed, so the next request does not re-parse it.
      this.#config = { ...(this.#config ?? emptyConfig(this.#options.path)), stamp: configStamp(this.#options.path) }
    }
  }
}

function emptyConfig(path: string): LoadedConfig {
  return { path, fromFile: true, broker: { ...DEFAULT_BROKER }, shared: SharedSettings.defaults(BUILT_IN_CATALOG.resources), profiles: new Map(), invalidProfiles: new Map(), stamp: '' }
}
