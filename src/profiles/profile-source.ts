import { REFERENCE_KINDS, type Reference } from '../config/references.js'
import type { SharedSettings, SharedUse } from '../config/shared-resources.js'
import type { OidcOptions } from '../oidc/config.js'
import type { FetchContext, Source, SourceCheck, SourceDefinition, SourceDeps } from '../sources/source.js'

/**
 * A profile's source bound once to its parsed options, where their type is still
 * known: every hook a source definition may have, called with the right options.
 * Callers ask the profile (`profile.source.loginTarget()`), never pair a
 * definition with options themselves.
 */
export interface ProfileSource<Options = unknown> {
  /** `source = "…"`. */
  readonly kind: string
  /** The parsed options, for tests and diagnostics; the methods below are how code uses them. */
  readonly options: Options
  create(deps: SourceDeps): Source
  /** Every reference the profile reads: the declared ones, else every reference found in its options. */
  references(): Reference[]
  /** The shared resources the profile uses: those its source talks to, and those its references are read through. */
  sharedUses(shared: SharedSettings): SharedUse[]
  /** `ccred doctor`'s checks beyond fetching once; none for most sources. */
  doctorChecks(deps: SourceDeps): Promise<SourceCheck[]>
  /** The identity provider `ccred login` signs in to; undefined: the source has no sign-in. */
  loginTarget(): OidcOptions | undefined
  /** The JWKS a gateway verifies this profile's tokens with; undefined: the source does not sign. */
  publishedKeys(ctx: FetchContext): Promise<{ keys: object[] }> | undefined
  yieldsAwsCredentials(): boolean
  storedSecretName(): string | undefined
  /** What is wrong with a secret `ccred set` is about to store; undefined when the source has no rule of its own. */
  validateStoredSecret(value: string): { problem: string | undefined } | undefined
}

export function bindSource<Options>(definition: SourceDefinition<Options>, options: Options): ProfileSource<Options> {
  const references = () => definition.references?.(options) ?? referencesIn(options)
  return {
    kind: definition.kind,
    options,
    create: (deps) => definition.create(options, deps),
    references,
    sharedUses(shared) {
      const own = definition.sharedUses?.(options) ?? []
      const kinds = new Set(references().map((ref) => ref.kind))
      const byReference = shared.resources
        .filter((resource) => resource.referenceKind !== undefined && kinds.has(resource.referenceKind))
        .map((resource) => ({ resource, settings: shared.of(resource) }))
      return [...own, ...byReference]
    },
    doctorChecks: async (deps) => (await definition.doctorChecks?.(options, deps)) ?? [],
    loginTarget: () => definition.loginTarget?.(options),
    publishedKeys: (ctx) => definition.publishedKeys?.(options, ctx),
    yieldsAwsCredentials: () => definition.yieldsAwsCredentials?.(options) === true,
    storedSecretName: () => definition.storedSecretName?.(options),
    validateStoredSecret: (value) => (definition.validateStoredSecret === undefined ? undefined : { problem: definition.validateStoredSecret(options, value) }),
  }
}

/** Every reference in parsed options (References are { kind, target }), for a source that declares none. */
export function referencesIn(options: unknown, seen = new Set<unknown>()): Reference[] {
  if (typeof options !== 'object' || options === null || seen.has(options)) return []
  seen.add(options)
  const node = options as { kind?: unknown; target?: unknown }
  if ((REFERENCE_KINDS as readonly unknown[]).includes(node.kind) && typeof node.target === 'string') return [options as Reference]
  return Object.values(options).flatMap((value) => referencesIn(value, seen))
}
