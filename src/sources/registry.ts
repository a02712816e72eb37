import type { SharedResource } from '../config/shared-resources.js'
import { vaultResource } from '../vault/shared.js'
import type { SourceDefinition } from './source.js'

/**
 * Maps `source = "x"` to its definition, loaded only when a profile uses it so
 * the daemon never pays for SDKs it does not need.
 */
const loaders: Record<string, () => Promise<SourceDefinition<any>>> = {
  static: async () => (await import('./static.js')).staticSource,
  exec: async () => (await import('./exec.js')).execSource,
  demo: async () => (await import('./demo.js')).demoSource,
  jwt: async () => (await import('./jwt.js')).jwtSource,
  gcp: async () => (await import('./gcp.js')).gcpSource,
  aws: async () => (await import('./aws.js')).awsSource,
  vault: async () => (await import('./vault.js')).vaultSource,
  oidc: async () => (await import('./oidc.js')).oidcSource,
}

export const SOURCE_KINDS: readonly string[] = Object.keys(loaders)

export async function loadSourceDefinition(kind: string): Promise<SourceDefinition<unknown> | undefined> {
  const load = loaders[kind]
  return load === undefined ? undefined : load()
}

/** The resources profiles share (a `[table]` of their own each, opened once by the service). */
export const SHARED_RESOURCES: readonly SharedResource<any, any>[] = [vaultResource]
