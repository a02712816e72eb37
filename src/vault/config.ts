import { awsCredentialFields } from '../aws/credentials.js'
import type { TableReader } from '../config/fields.js'
import type { Reference } from '../config/references.js'
import { boolean, compact, durationMs, INVALID, map, nested, oneOf, reference, refine, string, table, whenSet, type Field, type Infer } from '../config/schema.js'

/**
 * How ccred reaches Vault and logs in: the top-level `[vault]` table (the default
 * connection, also used by `vault:PATH#field` references), or a vault profile's
 * own `address`/`auth`/… keys. Only parsing lives here: nothing on this path
 * loads node-vault.
 */
export interface VaultConnectionConfig {
  /** The config table that declares it ("vault" or "profiles.x.vault"), for messages. */
  where: string
  /** undefined: VAULT_ADDR from the daemon's environment, as the vault CLI does. */
  address?: string
  /** undefined: VAULT_NAMESPACE. Sent as X-Vault-Namespace. */
  namespace?: string
  /** PEM file of the CA that signed Vault's certificate; undefined: VAULT_CACERT, else the system CAs. */
  caCert?: string
  /** Turns TLS certificate verification off. Never the default, never from the environment. */
  insecureSkipTlsVerify: boolean
  /** Plain http to a host that is not loopback: the token would cross the network in the clear, so only when the table says so. */
  allowInsecureHttp: boolean
  timeoutMs: number
  auth: VaultAuthConfig
  /** The table the auth settings came from, for messages ("vault.auth"). */
  authWhere: string
}

export const DEFAULT_VAULT_TIMEOUT_MS = 10_000
export const KUBERNETES_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token'
const CONNECTION_KEYS = ['address', 'namespace', 'ca_cert', 'insecure_skip_tls_verify', 'allow_insecure_http', 'timeout', 'auth'] as const

/** The connection used when there is no `[vault]` table: VAULT_ADDR and a token, like the vault CLI. */
export function defaultVaultConnection(): VaultConnectionConfig {
  return { where: 'vault', insecureSkipTlsVerify: false, allowInsecureHttp: false, timeoutMs: DEFAULT_VAULT_TIMEOUT_MS, auth: { method: 'token' }, authWhere: 'vault.auth' }
}

/** A secret Vault's login reads: never a vault: reference (it would need Vault to log in to Vault). */
function loginSecret(key: string, options: { required: true }): Field<Reference>
function loginSecret(key: string, options?: { required?: false }): Field<Reference | undefined>
function loginSecret(key: string, options: { required?: boolean } = {}): Field<Reference | undefined> {
  return whenSet(options.required ? reference(key, { required: true }) : reference(key), key, (ref) =>
    ref.kind === 'vault' ? 'a vault: reference cannot hold what logs in to Vault itself; use env:, file: or keychain:' : undefined)
}

const mount = (fallback: string) =>
  refine(string('mount', { fallback }), 'mount', (value) =>
    /^[\w.-]+(\/[\w.-]+)*$/.test(value) ? undefined : `expected a mount path like "${fallback}" (no leading or trailing "/")`)

/** `jwt = "github-actions"` (the runner's OIDC token) or a reference to a JWT. */
const jwtSource: Field<Reference | 'github-actions'> = (reader) => {
  const value = reader.raw('jwt')
  if (value === 'github-actions') return value
  if (value === undefined) {
    reader.problem('jwt', 'is required: "github-actions", or a reference such as "env:VAULT_ID_TOKEN" or "file:PATH"')
    return INVALID
  }
  // Read through the reference checks (a literal JWT is refused like any secret).
  return loginSecret('jwt', { required: true })(reader)
}

/** One table per auth method, after `method`; each names its method in the result. */
const authTables = {
  token: map(table({ token: loginSecret('token') }, { closed: true }), (auth) => compact({ method: 'token' as const, ...auth })),
  approle: map(
    table({ roleId: loginSecret('role_id', { required: true }), secretId: loginSecret('secret_id'), mount: mount('approle') }, { closed: true }),
    (auth) => compact({ method: 'approle' as const, ...auth }),
  ),
  jwt: map(
    table(
      { role: string('role', { required: true }), jwt: jwtSource, audience: string('audience'), mount: mount('jwt') },
      {
        checks(auth, reader) {
          if (auth.jwt !== 'github-actions' && reader.has('audience')) reader.problem('audience', 'only applies with jwt = "github-actions" (other JWTs carry their audience already)')
        },
        closed: true,
      },
    ),
    (auth) => compact({ method: 'jwt' as const, ...auth }),
  ),
  kubernetes: map(
    table({ role: string('role', { required: true }), tokenPath: string('token_path', { fallback: KUBERNETES_TOKEN_PATH }), mount: mount('kubernetes') }, { closed: true }),
    (auth) => ({ method: 'kubernetes' as const, ...auth }),
  ),
  aws: map(
    table({ role: string('role', { required: true }), serverId: string('header_value'), credentials: awsCredentialFields, mount: mount('aws') }, { closed: true }),
    (auth) => compact({ method: 'aws' as const, ...auth }),
  ),
}

export type VaultAuthConfig = Infer<(typeof authTables)[keyof typeof authTables]>
export type VaultAuthMethod = VaultAuthConfig['method']
export const VAULT_AUTH_METHODS = Object.keys(authTables) as VaultAuthMethod[]

/** The `auth` table: its method, then that method's keys (an unknown method stops there: which keys belong is unknown). */
const vaultAuth: Field<VaultAuthConfig> = (reader) => {
  const method = oneOf('method', VAULT_AUTH_METHODS, 'token')(reader)
  return method === INVALID ? INVALID : authTables[method](reader)
}

/** Whether a vault profile table sets connection keys of its own (else it uses `[vault]`). */
export function hasConnectionKeys(reader: TableReader): boolean {
  return CONNECTION_KEYS.some((key) => reader.has(key))
}

/**
 * Connection keys of a table. Keys the table does not set come from `base` (the
 * `[vault]` connection), so a profile may change only its auth.
 */
export function vaultConnection(base: VaultConnectionConfig = defaultVaultConnection()): Field<VaultConnectionConfig> {
  return map(
    refine(
      table({
        address: whenSet(string('address'), 'address', (address) =>
          /^https?:\/\/[^\s/]+/.test(address) ? undefined : 'expected an http(s) URL like "https://vault.example.com:8200"'),
        namespace: string('namespace'),
        caCert: string('ca_cert'),
        insecureSkipTlsVerify: boolean('insecure_skip_tls_verify', base.insecureSkipTlsVerify),
        allowInsecureHttp: boolean('allow_insecure_http', base.allowInsecureHttp),
        timeoutMs: durationMs('timeout', { fallbackMs: base.timeoutMs, minMs: 100, maxMs: 5 * 60_000 }),
        auth: nested('auth', vaultAuth, { whenPresent: true }),
      }),
      'address',
      // Plain http is checked where the address is written; VAULT_ADDR is checked where it is read.
      (connection) => (connection.address === undefined || connection.allowInsecureHttp ? undefined : plainHttpProblem(connection.address)),
    ),
    (connection, reader): VaultConnectionConfig =>
      compact({
        where: reader.where,
        address: (connection.address ?? base.address)?.replace(/\/+$/, ''),
        namespace: connection.namespace ?? base.namespace,
        caCert: connection.caCert ?? base.caCert,
        insecureSkipTlsVerify: connection.insecureSkipTlsVerify,
        allowInsecureHttp: connection.allowInsecureHttp,
        timeoutMs: connection.timeoutMs,
        auth: connection.auth ?? base.auth,
        authWhere: connection.auth === undefined ? base.authWhere : reader.path('auth'),
      }),
  )
}

/** Identifies a connection: profiles with the same one share one Vault token. */
export function connectionKey(config: VaultConnectionConfig): string {
  return JSON.stringify(config)
}

/** The references a connection's auth reads (env:, file:, keychain:; never vault:). */
export function connectionReferences(connection: VaultConnectionConfig): Reference[] {
  const auth = connection.auth
  switch (auth.method) {
    case 'token':
      return auth.token === undefined ? [] : [auth.token]
    case 'approle':
      return auth.secretId === undefined ? [auth.roleId] : [auth.roleId, auth.secretId]
    case 'jwt':
      return auth.jwt === 'github-actions' ? [] : [auth.jwt]
    case 'kubernetes':
    case 'aws':
      return []
  }
}

/**
 * A Vault token sent over plain http to another host can be read on the way, so
 * http is accepted only for loopback (a dev server), as the oidc source does for
 * issuers, unless the table sets `allow_insecure_http = true`.
 */
export function plainHttpProblem(address: string): string | undefined {
  let url: URL
  try {
    url = new URL(address)
  } catch {
    return undefined // the URL check reports it
  }
  if (url.protocol !== 'http:' || isLoopbackHost(url.hostname)) return undefined
  return `plain http to ${url.hostname} would send the Vault token unencrypted; use https://, or set allow_insecure_http = true in this table if the network is trusted`
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
}
