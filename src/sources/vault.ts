import { isCcredError } from '../errors.js'
import type { TableReader } from '../config/fields.js'
import { compact, durationMs, map, nested, parseWith, raw, refine, string, table, type Infer } from '../config/schema.js'
import { connectionReferences, hasConnectionKeys, vaultConnection } from '../vault/config.js'
import { vaultResource } from '../vault/shared.js'
import type { VaultConnection } from '../vault/connections.js'
import { pickField, type SecretRead } from '../vault/kv.js'
import type { Credential } from '../credential.js'
import type { FetchContext, SharedConfig, SourceDefinition } from './source.js'

/** A lease this profile holds (dynamic secrets), renewed while Vault lets it. */
interface Lease {
  id: string
  value: string
  /** The lease duration Vault first granted: the increment asked for on renewal. */
  durationS: number
  renewable: boolean
  expiresAtMs: number
  meta: Record<string, string>
}

const DEFAULT_REFRESH_MS = 5 * 60_000

/** `[profiles.x.vault]`: the secret, and a connection of its own or `[vault]`'s (the same object: one token). */
function vaultOptions(shared: SharedConfig) {
  return map(
    table(
      {
        connection: (reader: TableReader) => {
          const base = shared.settings(vaultResource)
          return hasConnectionKeys(reader) ? vaultConnection(base)(reader) : base
        },
        path: refine(map(string('path', { required: true }), (path) => path.replace(/^\/+|\/+$/g, '')), 'path', (path) =>
          path.startsWith('v1/') ? 'is a Vault path such as "secret/litellm/claude-code", without the /v1/ of the HTTP API' : undefined),
        field: string('field', { required: true }),
        kvVersion: raw<1 | 2 | undefined>('kv_version', (version, problem) =>
          version === undefined || version === 1 || version === 2 ? version : problem('expected 1 or 2 (leave it out to detect it from the mount)')),
        mount: string('mount'),
        /** How often a static (KV) value is read again. */
        refreshMs: durationMs('refresh', { fallbackMs: DEFAULT_REFRESH_MS, minMs: 1000, maxMs: 24 * 3_600_000 }),
      },
      {
        checks(vault, reader) {
          if (vault.mount !== undefined && vault.kvVersion === undefined) reader.problem('mount', 'only applies with kv_version (without it the mount is detected)')
        },
        closed: true,
      },
    ),
    compact,
  )
}
type VaultSourceOptions = Infer<ReturnType<typeof vaultOptions>>

/**
 * A secret from HashiCorp Vault, read once and kept by the daemon (where a hand
 * written helper would run `vault kv get -field=api_key …` on every call). KV v1
 * and v2 (static: read again every `refresh` and on a 401 re-issue), and dynamic
 * secrets with a lease (renewed ahead of expiry while renewable, read again at
 * max TTL or when not renewable).
 */
export const vaultSource: SourceDefinition<VaultSourceOptions> = {
  kind: 'vault',
  summary: 'a field of a HashiCorp Vault secret (KV v1/v2 or a dynamic secret with a lease)',
  parse(profile, shared) {
    return parseWith(nested('vault', vaultOptions(shared), { required: true }), profile)
  },
  storedSecretName(options) {
    // `ccred set <profile>` stores the keychain secret Vault's login reads (a token or secret_id).
    const auth = options.connection.auth
    const ref = auth.method === 'token' ? auth.token : auth.method === 'approle' ? auth.secretId : auth.method === 'jwt' && auth.jwt !== 'github-actions' ? auth.jwt : undefined
    return ref?.kind === 'keychain' ? ref.target : undefined
  },
  references(options) {
    return connectionReferences(options.connection)
  },
  sharedUses(options) {
    return [{ resource: vaultResource, settings: options.connection }]
  },
  async doctorChecks(options, deps) {
    const [{ checkVault }, connections] = await Promise.all([import('../vault/checks.js'), deps.shared(vaultResource)])
    return checkVault(connections.get(options.connection), [{ path: options.path, options: readOptions(options) }])
  },
  create(options, deps) {
    let lease: Lease | undefined
    return {
      async fetch(ctx) {
        const connection = (await deps.shared(vaultResource)).get(options.connection)
        const nowMs = ctx.clock.now()
        // A refused value is read anew, never renewed; so is a lease that has run out.
        if (lease !== undefined && !ctx.forced && lease.renewable && lease.expiresAtMs > nowMs) {
          const renewed = await renew(connection, lease, ctx)
          if (renewed !== undefined) return renewed
        }
        lease = undefined
        const secret = await connection.readSecret(options.path, readOptions(options))
        const value = pickField(secret, options.field)
        const meta = describe(connection, secret, options.field)
        const readAtMs = ctx.clock.now()
        if (secret.leaseId !== undefined && secret.leaseDurationS > 0) {
          lease = { id: secret.leaseId, value, durationS: secret.leaseDurationS, renewable: secret.renewable, expiresAtMs: readAtMs + secret.leaseDurationS * 1000, meta }
          return { kind: 'token', value, expiresAt: new Date(lease.expiresAtMs), meta }
        }
        return { kind: 'token', value, refreshAt: new Date(readAtMs + options.refreshMs), meta }
      },
    }

    /**
     * Renews the lease for as long again as first granted. A renewal that grants
     * less has hit the max TTL: the value would die early, so it is read anew.
     * A lease Vault no longer knows (400) is read anew too; other failures stand.
     */
    async function renew(connection: VaultConnection, held: Lease, ctx: FetchContext): Promise<Credential | undefined> {
      try {
        const renewed = await connection.renewLease(held.id, held.durationS)
        if (renewed.leaseDurationS < held.durationS) return undefined
        held.expiresAtMs = ctx.clock.now() + renewed.leaseDurationS * 1000
        held.renewable = renewed.renewable
        return { kind: 'token', value: held.value, expiresAt: new Date(held.expiresAtMs), meta: { ...held.meta, renewed: new Date(ctx.clock.now()).toISOString() } }
      } catch (error) {
        if (isCcredError(error, 'ERR_SOURCE_UNAVAILABLE') && error.detail.httpStatus === 400) return undefined
        throw error
      }
    }
  },
}

/** How the profile's secret is read: a pinned KV version and mount, or detected. */
function readOptions(options: VaultSourceOptions): { kvVersion?: 1 | 2; mount?: string } {
  return { ...(options.kvVersion === undefined ? {} : { kvVersion: options.kvVersion }), ...(options.mount === undefined ? {} : { mount: options.mount }) }
}

/** Non-secret facts for status: where the value came from. Lease ids are not secrets. */
function describe(connection: VaultConnection, secret: SecretRead, field: string): Record<string, string> {
  const meta: Record<string, string> = { vault: connection.address ?? '?', path: secret.apiPath, field, engine: secret.engine, auth: connection.config.auth.method }
  if (connection.namespace !== undefined) meta.namespace = connection.namespace
  if (secret.version !== undefined) meta.version = String(secret.version)
  if (secret.leaseId !== undefined) meta.lease = secret.leaseId
  if (connection.config.insecureSkipTlsVerify) meta.tls = 'VERIFICATION OFF (insecure_skip_tls_verify)'
  return meta
}
