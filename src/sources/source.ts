import type { Clock } from '../clock.js'
import type { Credential } from '../credential.js'
import type { TableReader } from '../config/fields.js'
import type { Reference } from '../config/references.js'
import type { OidcOptions } from '../oidc/config.js'
import type { SecretStore } from '../store/store.js'
import type { SharedResource, SharedUse } from '../config/shared-resources.js'

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
  /**
   * Every secret this fetch must keep out of messages: what the profile's references
   * resolved to and (added by the broker) its current and previous values. Text from
   * upstream (a helper's stderr, an error body) is redacted against them, in every form
   * (src/text/redact.ts), before it is cut short.
   */
  secrets?(): readonly string[]
}

/**
 * What a source is built with besides its options: the service's shared parts,
 * always present (a source that does not use one simply never calls it).
 */
export interface SourceDeps {
  /** The configured secret store, for a source that must also write (a rotated refresh token). */
  store(): SecretStore
  /** A resource the service keeps once for every profile (Vault: one token per connection), opened on first use. */
  shared<Resource>(resource: SharedResource<any, Resource>): Promise<Resource>
}

/** One finding of `ccred doctor` about a profile, beyond fetching its credential once. */
export interface SourceCheck {
  name: string
  ok: boolean
  detail: string
  hint?: string
}

/** Settings outside the profile's table that a source may build on: a shared resource's table (`[vault]`). */
export interface SharedConfig {
  settings<Settings>(resource: SharedResource<Settings, any>): Settings
}

/** No caching inside a source: the broker caches. */
export interface Source {
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
  create(options: Options, deps: SourceDeps): Source
  /**
   * Every reference the profile reads (env:, file:, keychain:, vault:); none when
   * left out. A reference read through a shared resource (`vault:`) makes that
   * resource's table (`[vault]`) part of the profile's cache key.
   */
  references?(options: Options): Reference[]
  /**
   * The shared resources the profile talks to itself (Vault: its connection), with
   * the settings it uses: kept open while configured; the resource's table is in
   * the profile's cache key.
   */
  sharedUses?(options: Options): SharedUse[]
  /** What `ccred doctor` checks for this profile beyond fetching once (Vault: status, token, capabilities). */
  doctorChecks?(options: Options, deps: SourceDeps): Promise<SourceCheck[]>
  /** The identity provider a person signs in to with `ccred login` / `logout`, for a source that has one. */
  loginTarget?(options: Options): OidcOptions
  /** The public keys a gateway verifies this profile's tokens with (`ccred jwt jwks`), for a source that signs. */
  publishedKeys?(options: Options, ctx: FetchContext): Promise<{ keys: object[] }>
  /** True when the profile yields AWS credentials (Claude Code's awsCredentialExport), not a key for a helper. */
  yieldsAwsCredentials?(options: Options): boolean
  /** The secret-store name this profile reads (for `ccred set`), if it reads one. */
  storedSecretName?(options: Options): string | undefined
  /**
   * Checks a secret `ccred set` is about to store for this profile; returns what is
   * wrong, or undefined. Without it the secret must be one line of printable text
   * (a header value); a source whose secret is something else (a PEM key) says so here.
   */
  validateStoredSecret?(options: Options, value: string): string | undefined
}
