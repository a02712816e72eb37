import { readAwsCredentialOptions, type AwsCredentialOptions } from '../aws/credentials.js'
import type { TableReader } from '../config/fields.js'
import type { Reference } from '../config/references.js'

/**
 * How ccred reaches Vault and logs in: the top-level `[vault]` table (the default
 * connection, also used by `vault:PATH#field` references), or a vault profile's
 * own `address`/`auth`/… keys. Only parsing lives here: nothing on this path
 * loads node-vault.
 */
export type VaultAuthConfig =
  | { method: 'token'; token?: Reference }
  | { method: 'approle'; mount: string; roleId: Reference; secretId?: Reference }
  | { method: 'jwt'; mount: string; role: string; jwt: Reference | 'github-actions'; audience?: string }
  | { method: 'kubernetes'; mount: string; role: string; tokenPath: string }
  | { method: 'aws'; mount: string; role: string; serverId?: string; credentials: AwsCredentialOptions }

export type VaultAuthMethod = VaultAuthConfig['method']

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
export const VAULT_AUTH_METHODS: readonly VaultAuthMethod[] = ['token', 'approle', 'jwt', 'kubernetes', 'aws']
const CONNECTION_KEYS = ['address', 'namespace', 'ca_cert', 'insecure_skip_tls_verify', 'allow_insecure_http', 'timeout', 'auth'] as const

/** The connection used when there is no `[vault]` table: VAULT_ADDR and a token, like the vault CLI. */
export function defaultVaultConnection(): VaultConnectionConfig {
  return { where: 'vault', insecureSkipTlsVerify: false, allowInsecureHttp: false, timeoutMs: DEFAULT_VAULT_TIMEOUT_MS, auth: { method: 'token' }, authWhere: 'vault.auth' }
}

/** Whether a vault profile table sets connection keys of its own (else it uses `[vault]`). */
export function hasConnectionKeys(reader: TableReader): boolean {
  return CONNECTION_KEYS.some((key) => reader.has(key))
}

/**
 * Reads connection keys from a table. Keys the table does not set come from
 * `base` (the `[vault]` connection), so a profile may change only its auth.
 */
export function readVaultConnection(reader: TableReader, base: VaultConnectionConfig = defaultVaultConnection()): VaultConnectionConfig {
  const address = reader.string('address')
  if (address !== undefined && !/^https?:\/\/[^\s/]+/.test(address)) reader.problem('address', `expected an http(s) URL like "https://vault.example.com:8200"`)
  const namespace = reader.string('namespace')
  const caCert = reader.string('ca_cert')
  const insecure = reader.boolean('insecure_skip_tls_verify', base.insecureSkipTlsVerify)
  const allowInsecureHttp = reader.boolean('allow_insecure_http', base.allowInsecureHttp)
  if (address !== undefined && !allowInsecureHttp) {
    const problem = plainHttpProblem(address)
    if (problem !== undefined) reader.problem('address', problem)
  }
  const timeoutMs = reader.durationMs('timeout', { fallbackMs: base.timeoutMs, minMs: 100, maxMs: 5 * 60_000 }) ?? base.timeoutMs
  const hasAuth = reader.has('auth')
  const auth = hasAuth ? readVaultAuth(reader.nested('auth')) : base.auth
  if (!hasAuth) reader.allow('auth')
  const config: VaultConnectionConfig = {
    where: reader.where,
    insecureSkipTlsVerify: insecure,
    allowInsecureHttp,
    timeoutMs,
    auth,
    authWhere: hasAuth ? reader.path('auth') : base.authWhere,
  }
  const resolvedAddress = address ?? base.address
  const resolvedNamespace = namespace ?? base.namespace
  const resolvedCa = caCert ?? base.caCert
  if (resolvedAddress !== undefined) config.address = resolvedAddress.replace(/\/+$/, '')
  if (resolvedNamespace !== undefined) config.namespace = resolvedNamespace
  if (resolvedCa !== undefined) config.caCert = resolvedCa
  return config
}

function readVaultAuth(reader: TableReader): VaultAuthConfig {
  const method = reader.oneOf('method', VAULT_AUTH_METHODS, 'token')
  const mount = (fallback: string) => {
    const value = reader.string('mount') ?? fallback
    if (!/^[\w.-]+(\/[\w.-]+)*$/.test(value)) reader.problem('mount', `expected a mount path like "${fallback}" (no leading or trailing "/")`)
    return value
  }
  const secretRef = (key: string, required: boolean): Reference | undefined => {
    const ref = required ? reader.reference(key, { required: true }) : reader.reference(key)
    if (ref?.kind === 'vault') {
      reader.problem(key, 'a vault: reference cannot hold what logs in to Vault itself; use env:, file: or keychain:')
      return undefined
    }
    return ref
  }
  let auth: VaultAuthConfig
  switch (method) {
    case 'token': {
      const token = secretRef('token', false)
      auth = token === undefined ? { method } : { method, token }
      break
    }
    case 'approle': {
      const roleId = secretRef('role_id', true)
      const secretId = secretRef('secret_id', false)
      auth = { method, mount: mount('approle'), roleId: roleId ?? { kind: 'env', target: 'UNSET' } }
      if (secretId !== undefined) auth.secretId = secretId
      break
    }
    case 'jwt': {
      const role = reader.string('role', { required: true }) ?? ''
      const raw = reader.raw('jwt')
      let jwt: Reference | 'github-actions' = 'github-actions'
      if (raw === 'github-actions') {
        const audience = reader.string('audience')
        auth = { method, mount: mount('jwt'), role, jwt }
        if (audience !== undefined) auth.audience = audience
        break
      }
      if (raw === undefined) reader.problem('jwt', 'is required: "github-actions", or a reference such as "env:VAULT_ID_TOKEN" or "file:PATH"')
      else {
        // Re-read through the reference checks (a literal JWT is refused like any secret).
        const ref = secretRef('jwt', true)
        if (ref !== undefined) jwt = ref
      }
      if (reader.has('audience')) reader.problem('audience', 'only applies with jwt = "github-actions" (other JWTs carry their audience already)')
      auth = { method, mount: mount('jwt'), role, jwt }
      break
    }
    case 'kubernetes': {
      const role = reader.string('role', { required: true }) ?? ''
      const tokenPath = reader.string('token_path') ?? KUBERNETES_TOKEN_PATH
      auth = { method, mount: mount('kubernetes'), role, tokenPath }
      break
    }
    case 'aws': {
      const role = reader.string('role', { required: true }) ?? ''
      const serverId = reader.string('header_value')
      const credentials = readAwsCredentialOptions(reader)
      auth = { method, mount: mount('aws'), role, credentials }
      if (serverId !== undefined) auth.serverId = serverId
      break
    }
  }
  reader.rejectUnknownKeys()
  return auth
}

/** Identifies a connection: profiles with the same one share one Vault token. */
export function connectionKey(config: VaultConnectionConfig): string {
  return JSON.stringify(config)
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
