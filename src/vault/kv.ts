import { CcredError } from '../errors.js'
import type { VaultBody } from './client.js'

/** The secrets engine mounted at a path, from sys/internal/ui/mounts/<path>. */
export interface MountInfo {
  /** With a trailing "/", e.g. "secret/". */
  path: string
  type: string
  kvVersion?: 1 | 2
}

/** One read of a secret: its fields and, for dynamic secrets, the lease. */
export interface SecretRead {
  /** The path read through the API ("secret/data/litellm/key" for KV v2). */
  apiPath: string
  engine: string
  data: Record<string, unknown>
  /** KV v2: the version read. */
  version?: number
  /** Dynamic secrets only; KV has none (KV v1's lease_duration is just a refresh hint). */
  leaseId?: string
  leaseDurationS: number
  renewable: boolean
}

/**
 * Parses sys/internal/ui/mounts/<path>
 * (https://developer.hashicorp.com/vault/api-docs/system/internal-ui-mounts):
 * `{"data": {"path": "secret/", "type": "kv", "options": {"version": "2"}}}`.
 */
export function parseMount(body: VaultBody): MountInfo | undefined {
  const data = body.data as { path?: unknown; type?: unknown; options?: { version?: unknown } | null } | null | undefined
  if (data === null || data === undefined || typeof data.path !== 'string' || typeof data.type !== 'string') return undefined
  const info: MountInfo = { path: data.path.endsWith('/') ? data.path : `${data.path}/`, type: data.type }
  if (data.type === 'kv' || data.type === 'generic') info.kvVersion = String(data.options?.version ?? '1') === '2' ? 2 : 1
  return info
}

/**
 * The API path to read. KV v2 keeps data under <mount>/data/ (as `vault kv get`
 * inserts it); a path already written that way is kept.
 * https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version
 */
export function apiPathFor(path: string, mount: MountInfo): string {
  if (mount.kvVersion !== 2 || !path.startsWith(mount.path)) return path
  const rest = path.slice(mount.path.length)
  return rest.startsWith('data/') ? path : `${mount.path}data/${rest}`
}

/** The mount of a KV path when kv_version is configured: `mount`, else the first path segment. */
export function configuredMount(path: string, kvVersion: 1 | 2, mount: string | undefined): MountInfo {
  const mountPath = `${(mount ?? path.split('/')[0]!).replace(/\/+$/, '')}/`
  return { path: mountPath, type: 'kv', kvVersion }
}

export function secretFromBody(body: VaultBody, apiPath: string, mount: MountInfo): SecretRead {
  const engine = mount.kvVersion === undefined ? mount.type : `kv-v${mount.kvVersion}`
  let data: unknown = body.data
  let version: number | undefined
  if (mount.kvVersion === 2) {
    const inner = body.data as { data?: unknown; metadata?: { version?: unknown } } | null | undefined
    data = inner?.data
    if (typeof inner?.metadata?.version === 'number') version = inner.metadata.version
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new CcredError('ERR_SOURCE_OUTPUT', `vault: ${apiPath} holds no fields (deleted or destroyed version?)`, {
      hint: `check it with: vault kv get ${apiPath}`,
    })
  }
  const leaseId = typeof body.lease_id === 'string' && body.lease_id !== '' ? body.lease_id : undefined
  const read: SecretRead = {
    apiPath,
    engine,
    data: data as Record<string, unknown>,
    leaseDurationS: typeof body.lease_duration === 'number' ? body.lease_duration : 0,
    renewable: body.renewable === true,
  }
  if (version !== undefined) read.version = version
  if (leaseId !== undefined) read.leaseId = leaseId
  return read
}

/** The field's value; a missing field lists the names there are (never a value), a non-string one is refused. */
export function pickField(secret: SecretRead, field: string): string {
  if (!Object.hasOwn(secret.data, field)) {
    const names = Object.keys(secret.data).sort()
    throw new CcredError('ERR_SOURCE_OUTPUT', `vault: ${secret.apiPath} has no field "${field}" (fields: ${names.length === 0 ? 'none' : names.join(', ')})`, {
      hint: 'set `field` (or the #field of the vault: reference) to one of those names',
    })
  }
  const value = secret.data[field]
  if (typeof value !== 'string') {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`
    throw new CcredError('ERR_SOURCE_OUTPUT', `vault: field "${field}" of ${secret.apiPath} is ${kind}, not a string`, {
      hint: 'store the credential as a string field (vault kv put <path> field=value)',
    })
  }
  return value
}
