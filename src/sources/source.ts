import type { Clock } from '../clock.js'
import type { TableReader } from '../config/fields.js'
import type { Reference } from '../config/references.js'
import type { SecretStore } from '../store/store.js'
import type { VaultConnectionConfig } from '../vault/config.js'
import type { VaultConnections } from '../vault/connections.js'

/** What every source returns. */
export interface Credential {
  /** The secret (token, key, or JSON for aws). */
  value: string
  /** undefined = does not expire (a static key). */
  expiresAt?: Date
  /** For header-value output; default Bearer. A Basic value is "user:password". */
  scheme?: 'Bearer' | 'Basic'
  /**
   * A soft refresh time for a value that does not expire (a static Vault KV
   * secret): the value stays valid and keeps being served, and the broker reads
   * it again in the background at this time, so a rotated key is picked up.
   */
  refreshAt?: Date
  /** Non-secret facts for status (reference, command, note). */
  meta?: Record<string, string>
}

export interface FetchContext {
  profile: string
  clock: Clock
  /** Resolves a reference from this profile's config; `key` names the config key for messages. */
  resolve(ref: Reference, key: string): Promise<string>
  /**
   * Why the broker asks: true when the value it holds was refused (a 401/407
   * re-issue) or `ccred get --refresh`. A source must then read anew, never
   * renew or hand back the refused value.
   */
  forced?: boolean
  /** The service's Vault connections (one token per connection, shared by every profile); for Vault-backed sources. */
  vault?: () => Promise<VaultConnections>
  /** The configured secret store, for a source that must also write (a rotated refresh token). */
  store?: () => SecretStore
}

/** Settings outside the profile's table that a source may build on. */
export interface SharedConfig {
  /** The `[vault]` table: the default Vault connection (VAULT_ADDR and a token when absent). */
  vault: VaultConnectionConfig
}

/** No caching inside a source: the broker caches. */
export interface Source {
  readonly kind: string
  fetch(ctx: FetchContext): Promise<Credential>
}

/**
 * One file per source exports a definition: `parse` validates the profile's
 * table (collecting problems in the reader), `create` builds the Source. Heavy
 * SDKs are imported inside `fetch`, so listing or validating profiles stays light.
 */
export interface SourceDefinition<Options = unknown> {
  readonly kind: string
  /** One line for `ccred init` and `--help`. */
  readonly summary: string
  parse(reader: TableReader, shared: SharedConfig): Options
  create(options: Options): Source
  /** The secret-store name this profile reads (for `ccred set`), if it reads one. */
  storedSecretName?(options: Options): string | undefined
  /**
   * Checks a secret `ccred set` is about to store for this profile; returns what is
   * wrong, or undefined. Without it the secret must be one line of printable text
   * (a header value); a source whose secret is something else (a PEM key) says so here.
   */
  validateStoredSecret?(options: Options, value: string): string | undefined
}
