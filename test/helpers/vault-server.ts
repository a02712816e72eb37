// A protocol-faithful HashiCorp Vault test server on loopback, for the real node-vault client.
// It follows Vault's HTTP API documentation (each endpoint cites its page): JSON bodies,
// X-Vault-Token and X-Vault-Namespace headers, error bodies {"errors": [...]}, tokens with a
// TTL, max TTL and renewability on an injectable clock, ACL policies per token, KV v2 at
// secret/ and KV v1 at kv/, a dynamic-secret mount with leases at database/, the approle,
// jwt, kubernetes and aws login methods, sealed mode and fault injection.
// https://developer.hashicorp.com/vault/api-docs
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import { listenOnLoopback } from './listen.js'

export interface ServerClock {
  now(): number
}

/**
 * A policy path against a request path: `+` stands for one whole path segment, a trailing `*`
 * for any rest (https://developer.hashicorp.com/vault/docs/concepts/policies#policy-syntax).
 */
function policyPathMatches(glob: string, path: string): boolean {
  const prefix = glob.endsWith('*') ? glob.slice(0, -1) : glob
  const pattern = prefix.split('/').map((segment) => (segment === '+' ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')
  return new RegExp(`^${pattern}${glob.endsWith('*') ? '' : '$'}`).test(path)
}

/** A duration as Go's time.Duration prints it, as Vault's messages do: 3600 s → "1h0m0s", 90 s → "1m30s", 45 s → "45s". */
export function goDuration(ms: number): string {
  const totalS = Math.round(ms / 1000)
  const h = Math.floor(totalS / 3600)
  const m = Math.floor((totalS % 3600) / 60)
  const sec = totalS % 60
  if (h > 0) return `${h}h${m}m${sec}s`
  if (m > 0) return `${m}m${sec}s`
  return `${sec}s`
}

/** Path glob → capabilities, as in an HCL policy: `"secret/data/litellm/*" = ["read"]`. */
export type PolicyRules = Record<string, string[]>

export interface TokenOptions {
  policies?: string[]
  /** 0: never expires (a root token). */
  ttlMs?: number
  maxTtlMs?: number
  renewable?: boolean
  namespace?: string
  /**
   * This Vault does not honour a renewal's `increment` and grants this instead (capped by the max
   * TTL). The docs allow it: "Vault is not required to honor this request"
   * (https://developer.hashicorp.com/vault/docs/commands/token/renew, `-increment`).
   */
  renewGrantMs?: number
}

interface TokenRecord {
  id: string
  accessor: string
  policies: string[]
  creationTtlMs: number
  renewable: boolean
  issuedAtMs: number
  expiresAtMs?: number
  maxExpiresAtMs?: number
  namespace: string
  path: string
  meta: Record<string, string>
  renewGrantMs?: number
}

/** Token settings of an auth role (token_policies, token_ttl, token_max_ttl). */
export interface RoleTokenOptions {
  policies: string[]
  ttlMs: number
  maxTtlMs?: number
  renewable?: boolean
}

interface KvVersion {
  data: Record<string, unknown>
  createdAtMs: number
  deletedAtMs?: number
  destroyed: boolean
}

interface Lease {
  id: string
  data: Record<string, string>
  durationMs: number
  renewable: boolean
  issuedAtMs: number
  expiresAtMs: number
  maxExpiresAtMs: number
  revoked: boolean
}

export interface DatabaseRole {
  ttlMs: number
  maxTtlMs: number
  renewable?: boolean
}

class Namespace {
  readonly policies = new Map<string, PolicyRules>()
  readonly kv2 = new Map<string, KvVersion[]>()
  readonly kv1 = new Map<string, Record<string, unknown>>()
  readonly dbRoles = new Map<string, DatabaseRole>()
  readonly approle = new Map<string, RoleTokenOptions & { roleId: string; secretIds: Set<string> }>()
  readonly jwtRoles = new Map<string, RoleTokenOptions & { boundAudiences: string[]; boundClaims?: Record<string, string>; userClaim: string }>()
  jwtConfig: { jwks: JSONWebKeySet; boundIssuer?: string } | undefined
  readonly k8sRoles = new Map<string, RoleTokenOptions & { serviceAccounts: string[]; namespaces: string[] }>()
  /** What the TokenReview API would say about a service-account JWT. */
  readonly k8sTokens = new Map<string, { serviceAccount: string; namespace: string }>()
  readonly awsRoles = new Map<string, RoleTokenOptions & { boundPrincipalArn: string }>()
  awsServerId: string | undefined
}

/** What STS knows: access key → secret, session token, principal. */
interface AwsKey {
  secretAccessKey: string
  sessionToken?: string
  arn: string
}

export interface Fault {
  /** Requests whose "METHOD /v1/path" matches; default every request. */
  match?: RegExp
  /** Answer with this status and {"errors": errors}; undefined: only delay, then answer normally. */
  status?: number
  errors?: string[]
  delayMs?: number
  /** Set by the server once a delay has run out: a client that gave up earlier saw its own timeout. */
  delayEnded?: boolean
  /** How many requests it applies to; default: until cleared. */
  times?: number
}

export interface RecordedVaultRequest {
  method: string
  path: string
  namespace: string
  hasToken: boolean
  status?: number
}

/**
 * Vault's built-in "default" policy, attached to every token
 * (https://developer.hashicorp.com/vault/docs/concepts/policies#default-policy).
 */
const DEFAULT_POLICY: PolicyRules = {
  'auth/token/lookup-self': ['read'],
  'auth/token/renew-self': ['update'],
  'auth/token/revoke-self': ['update'],
  'sys/capabilities-self': ['update'],
  'sys/leases/renew': ['update'],
  'sys/leases/lookup': ['update'],
  'sys/renew': ['update'],
}

/** KV v1 answers a read with a 32-day lease_duration that is only a refresh hint (no lease id). */
const KV1_TTL_S = 2_764_800

class HttpFailure extends Error {
  constructor(readonly status: number, readonly errors: string[], readonly extra: Record<string, unknown> = {}) {
    super(errors.join('; '))
  }
}

export class VaultTestServer {
  readonly requests: RecordedVaultRequest[] = []
  sealed = false
  clock: ServerClock
  readonly faults: Fault[] = []
  readonly #namespaces = new Map<string, Namespace>([['', new Namespace()]])
  readonly #tokens = new Map<string, TokenRecord>()
  readonly #leases = new Map<string, Lease>()
  readonly #awsKeys = new Map<string, AwsKey>()
  #server: http.Server | undefined
  #port = 0
  readonly #tls: { key: string; cert: string } | undefined

  constructor(options: { clock?: ServerClock; tls?: { key: string; cert: string } } = {}) {
    this.clock = options.clock ?? { now: () => Date.now() }
    this.#tls = options.tls
  }

  get url(): string {
    return `${this.#tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.#port}`
  }

  async start(): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => { void this.#handle(req, res) }
    this.#server = this.#tls === undefined ? http.createServer(handler) : https.createServer(this.#tls, handler)
    this.#port = await listenOnLoopback(this.#server)
    return this
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#server === undefined) return resolve()
      this.#server.close(() => resolve())
      this.#server.closeAllConnections()
    })
  }

  // ---- set-up, as an operator would with the vault CLI ----

  namespace(name: string): Namespace {
    let ns = this.#namespaces.get(name)
    if (ns === undefined) {
      ns = new Namespace()
      this.#namespaces.set(name, ns)
    }
    return ns
  }

  policy(name: string, rules: PolicyRules, namespace = ''): void {
    this.namespace(namespace).policies.set(name, rules)
  }

  createToken(options: TokenOptions = {}): string {
    const token = this.#issueToken({ policies: options.policies ?? ['root'], ttlMs: options.ttlMs ?? 0, maxTtlMs: options.maxTtlMs ?? 0, renewable: options.renewable ?? true }, options.namespace ?? '', 'auth/token/create', {})
    if (options.renewGrantMs !== undefined) token.renewGrantMs = options.renewGrantMs
    return token.id
  }

  revokeToken(id: string): void {
    this.#tokens.delete(id)
  }

  /** `vault kv put` on KV v2 (mount "secret/") or KV v1 (mount "kv/"). */
  kvPut(path: string, data: Record<string, unknown>, namespace = ''): void {
    const ns = this.namespace(namespace)
    if (path.startsWith('secret/')) this.#kv2Write(ns, path.slice('secret/'.length), data)
    else if (path.startsWith('kv/')) ns.kv1.set(path.slice('kv/'.length), data)
    else throw new Error(`kvPut: ${path} is not under secret/ (v2) or kv/ (v1)`)
  }

  databaseRole(name: string, role: DatabaseRole, namespace = ''): void {
    this.namespace(namespace).dbRoles.set(name, role)
  }

  /** An approle role; returns its role_id and one secret_id. */
  approleRole(name: string, options: RoleTokenOptions, namespace = ''): { roleId: string; secretId: string } {
    const roleId = randomUUID()
    const secretId = randomUUID()
    this.namespace(namespace).approle.set(name, { ...options, roleId, secretIds: new Set([secretId]) })
    return { roleId, secretId }
  }

  jwtConfig(config: { jwks: JSONWebKeySet; boundIssuer?: string }, namespace = ''): void {
    this.namespace(namespace).jwtConfig = config
  }

  jwtRole(name: string, options: RoleTokenOptions & { boundAudiences: string[]; boundClaims?: Record<string, string>; userClaim?: string }, namespace = ''): void {
    this.namespace(namespace).jwtRoles.set(name, { ...options, userClaim: options.userClaim ?? 'sub' })
  }

  kubernetesRole(name: string, options: RoleTokenOptions & { serviceAccounts: string[]; namespaces: string[] }, namespace = ''): void {
    this.namespace(namespace).k8sRoles.set(name, options)
  }

  kubernetesServiceAccountToken(jwt: string, serviceAccount: string, k8sNamespace: string, namespace = ''): void {
    this.namespace(namespace).k8sTokens.set(jwt, { serviceAccount, namespace: k8sNamespace })
  }

  awsRole(name: string, options: RoleTokenOptions & { boundPrincipalArn: string }, namespace = ''): void {
    this.namespace(namespace).awsRoles.set(name, options)
  }

  /** auth/aws/config/client iam_server_id_header_value. */
  awsServerId(value: string | undefined, namespace = ''): void {
    this.namespace(namespace).awsServerId = value
  }

  /** An IAM access key STS will accept, and the principal it belongs to. */
  awsAccessKey(accessKeyId: string, key: AwsKey): void {
    this.#awsKeys.set(accessKeyId, key)
  }

  lease(id: string): Lease | undefined {
    return this.#leases.get(id)
  }

  tokenInfo(id: string): TokenRecord | undefined {
    return this.#tokens.get(id)
  }

  /** Tokens that are still valid, issued by a login path (e.g. "auth/approle/login"). */
  liveTokens(path?: string): TokenRecord[] {
    return [...this.#tokens.values()].filter((t) => this.#alive(t) && (path === undefined || t.path === path))
  }

  // ---- the HTTP API ----

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vault')
    const record: RecordedVaultRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      namespace: String(req.headers['x-vault-namespace'] ?? '').replace(/^\/+|\/+$/g, ''),
      hasToken: typeof req.headers['x-vault-token'] === 'string' && req.headers['x-vault-token'] !== '',
    }
    this.requests.push(record)
    const send = (status: number, body?: unknown) => {
      record.status = status
      if (res.destroyed) return
      if (status === 204 || body === undefined) {
        res.writeHead(status)
        res.end()
        return
      }
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store' })
      res.end(text)
    }
    let raw = ''
    for await (const chunk of req) raw += String(chunk)
    try {
      const fault = this.#takeFault(`${record.method} ${record.path}`)
      if (fault?.delayMs !== undefined) {
        await new Promise((r) => setTimeout(r, fault.delayMs))
        fault.delayEnded = true
      }
      if (fault?.status !== undefined) throw new HttpFailure(fault.status, fault.errors ?? [])
      let body: Record<string, unknown> = {}
      if (raw.trim() !== '') {
        try {
          body = JSON.parse(raw) as Record<string, unknown>
        } catch {
          throw new HttpFailure(400, ['failed to parse JSON input: invalid character'])
        }
      }
      const answer = await this.#route(record, url, body, req.headers)
      if (answer === undefined) send(204)
      else send(answer.status ?? 200, answer.body)
    } catch (error) {
      if (error instanceof HttpFailure) send(error.status, { ...error.extra, errors: error.errors })
      else send(500, { errors: [`internal error: ${(error as Error).message}`] })
    }
  }

  #takeFault(what: string): Fault | undefined {
    const index = this.faults.findIndex((f) => f.match === undefined || f.match.test(what))
    if (index < 0) return undefined
    const fault = this.faults[index]!
    if (fault.times !== undefined && --fault.times <= 0) this.faults.splice(index, 1)
    return fault
  }

  async #route(record: RecordedVaultRequest, url: URL, body: Record<string, unknown>, headers: http.IncomingHttpHeaders): Promise<{ status?: number; body?: unknown } | undefined> {
    const method = record.method === 'PUT' ? 'POST' : record.method
    if (!url.pathname.startsWith('/v1/')) throw new HttpFailure(404, [])
    const path = decodeURIComponent(url.pathname.slice('/v1/'.length))

    // https://developer.hashicorp.com/vault/api-docs/system/seal-status — answers while sealed.
    if (path === 'sys/seal-status' && method === 'GET') {
      return { body: { type: 'shamir', initialized: true, sealed: this.sealed, t: 3, n: 5, progress: 0, nonce: '', version: '1.17.0-test', build_date: '2026-01-01T00:00:00Z', migration: false, recovery_seal: false, storage_type: 'inmem' } }
    }
    // https://developer.hashicorp.com/vault/api-docs/system/health — 200 active, 503 sealed.
    if (path === 'sys/health' && method === 'GET') {
      return { status: this.sealed ? 503 : 200, body: { initialized: true, sealed: this.sealed, standby: false, performance_standby: false, server_time_utc: Math.floor(this.clock.now() / 1000), version: '1.17.0-test', cluster_name: 'vault-test', cluster_id: 'test' } }
    }
    // https://developer.hashicorp.com/vault/api-docs#http-status-codes — 503: Vault is down for maintenance or is sealed.
    if (this.sealed) throw new HttpFailure(503, ['Vault is sealed'])
    const ns = this.#namespaces.get(record.namespace)
    if (ns === undefined) throw new HttpFailure(404, [`no handler for route "${path}". route entry not found.`])

    // Logins need no token.
    if (method === 'POST' && path === 'auth/approle/login') return { body: this.#approleLogin(ns, record.namespace, body) }
    if (method === 'POST' && path === 'auth/jwt/login') return { body: await this.#jwtLogin(ns, record.namespace, body) }
    if (method === 'POST' && path === 'auth/kubernetes/login') return { body: this.#kubernetesLogin(ns, record.namespace, body) }
    if (method === 'POST' && path === 'auth/aws/login') return { body: await this.#awsLogin(ns, record.namespace, body) }

    const token = this.#authenticate(headers, record.namespace)
    // https://developer.hashicorp.com/vault/api-docs/auth/token#lookup-a-token-self
    if (path === 'auth/token/lookup-self' && method === 'GET') return { body: this.#lookupSelf(token) }
    // https://developer.hashicorp.com/vault/api-docs/auth/token#renew-a-token-self
    if (path === 'auth/token/renew-self' && method === 'POST') return { body: this.#renewSelf(token, body) }
    // https://developer.hashicorp.com/vault/api-docs/system/capabilities-self
    if (path === 'sys/capabilities-self' && method === 'POST') return { body: this.#capabilitiesSelf(ns, token, body) }
    // https://developer.hashicorp.com/vault/api-docs/system/internal-ui-mounts#get-single-mount-details
    if (path.startsWith('sys/internal/ui/mounts/') && method === 'GET') return { body: this.#mountDetails(ns, token, path.slice('sys/internal/ui/mounts/'.length)) }
    // https://developer.hashicorp.com/vault/api-docs/system/leases#renew-lease
    if (path === 'sys/leases/renew' && method === 'POST') {
      this.#authorize(ns, token, path, 'update')
      return { body: this.#renewLease(body) }
    }
    // https://developer.hashicorp.com/vault/api-docs/system/leases#revoke-lease
    if (path === 'sys/leases/revoke' && method === 'POST') {
      this.#authorize(ns, token, path, 'update')
      const lease = this.#leases.get(String(body.lease_id ?? ''))
      if (lease !== undefined) lease.revoked = true
      return undefined
    }
    // https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
    if (path.startsWith('secret/data/')) return this.#kv2Data(ns, token, method, path, path.slice('secret/data/'.length), url, body)
    if (path.startsWith('secret/metadata/') && method === 'GET') {
      this.#authorize(ns, token, path, 'read')
      return { body: this.#kv2Metadata(ns, path.slice('secret/metadata/'.length)) }
    }
    // https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v1
    if (path.startsWith('kv/')) {
      const key = path.slice('kv/'.length)
      if (method === 'GET') {
        this.#authorize(ns, token, path, 'read')
        const data = ns.kv1.get(key)
        if (data === undefined) throw new HttpFailure(404, [])
        return { body: { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: KV1_TTL_S, data, wrap_info: null, warnings: null, auth: null } }
      }
      if (method === 'POST') {
        this.#authorize(ns, token, path, ns.kv1.has(key) ? 'update' : 'create')
        ns.kv1.set(key, body)
        return undefined
      }
    }
    // https://developer.hashicorp.com/vault/api-docs/secret/databases#generate-credentials
    if (path.startsWith('database/creds/') && method === 'GET') {
      this.#authorize(ns, token, path, 'read')
      return { body: this.#databaseCreds(ns, path) }
    }
    throw new HttpFailure(404, [`no handler for route "${path}". route entry not found.`])
  }

  // ---- tokens and policies ----

  #issueToken(role: { policies: string[]; ttlMs: number; maxTtlMs: number; renewable: boolean }, namespace: string, path: string, meta: Record<string, string>): TokenRecord {
    const nowMs = this.clock.now()
    const token: TokenRecord = {
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      policies: role.policies.includes('root') ? ['root'] : ['default', ...role.policies],
      creationTtlMs: role.ttlMs,
      renewable: role.ttlMs > 0 && role.renewable,
      issuedAtMs: nowMs,
      namespace,
      path,
      meta,
    }
    if (role.ttlMs > 0) token.expiresAtMs = nowMs + (role.maxTtlMs > 0 ? Math.min(role.ttlMs, role.maxTtlMs) : role.ttlMs)
    if (role.maxTtlMs > 0) token.maxExpiresAtMs = nowMs + role.maxTtlMs
    this.#tokens.set(token.id, token)
    return token
  }

  #alive(token: TokenRecord): boolean {
    return token.expiresAtMs === undefined || token.expiresAtMs > this.clock.now()
  }

  /** A missing, unknown or expired token is 403 "permission denied", as Vault answers. */
  #authenticate(headers: http.IncomingHttpHeaders, namespace: string): TokenRecord {
    const id = headers['x-vault-token']
    const token = typeof id === 'string' ? this.#tokens.get(id) : undefined
    if (token === undefined || !this.#alive(token) || token.namespace !== namespace) throw new HttpFailure(403, ['permission denied'])
    return token
  }

  /** The capabilities a token has on a path: the most specific matching rule of its policies wins. */
  #capabilities(ns: Namespace, token: TokenRecord, path: string): string[] {
    if (token.policies.includes('root')) return ['root']
    let best: { length: number; caps: string[] } | undefined
    const consider = (rules: PolicyRules) => {
      for (const [glob, caps] of Object.entries(rules)) {
        if (!policyPathMatches(glob, path)) continue
        // More specific first: the later the first wildcard (+ or a trailing *), the higher; an exact path highest.
        const wildcardAt = glob.search(/[+*]/)
        const length = wildcardAt === -1 ? glob.length + 1 : wildcardAt
        if (best === undefined || length > best.length) best = { length, caps }
        else if (length === best.length) best = { length, caps: [...new Set([...best.caps, ...caps])] }
      }
    }
    consider(DEFAULT_POLICY)
    for (const name of token.policies) {
      const rules = ns.policies.get(name)
      if (rules !== undefined) consider(rules)
    }
    const caps: string[] = best?.caps ?? []
    return caps.includes('deny') ? ['deny'] : caps.length === 0 ? ['deny'] : caps
  }

  #authorize(ns: Namespace, token: TokenRecord, path: string, capability: string): void {
    const caps = this.#capabilities(ns, token, path)
    if (!caps.includes('root') && !caps.includes(capability)) throw new HttpFailure(403, ['permission denied'])
  }

  #lookupSelf(token: TokenRecord): unknown {
    const nowMs = this.clock.now()
    return {
      request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, warnings: null, auth: null,
      data: {
        accessor: token.accessor,
        creation_time: Math.floor(token.issuedAtMs / 1000),
        creation_ttl: Math.floor(token.creationTtlMs / 1000),
        display_name: token.path.replace(/\//g, '-'),
        entity_id: '',
        expire_time: token.expiresAtMs === undefined ? null : new Date(token.expiresAtMs).toISOString(),
        explicit_max_ttl: 0,
        id: token.id,
        issue_time: new Date(token.issuedAtMs).toISOString(),
        meta: token.meta,
        num_uses: 0,
        orphan: true,
        path: token.path,
        policies: token.policies,
        renewable: token.renewable,
        ttl: token.expiresAtMs === undefined ? 0 : Math.max(0, Math.floor((token.expiresAtMs - nowMs) / 1000)),
        type: 'service',
      },
    }
  }

  /**
   * https://developer.hashicorp.com/vault/api-docs/auth/token#renew-a-token-self: `increment` is a
   * duration ("1h", "3600s") or a number of seconds, and "may not be honored". A renewal grants it
   * (default: the creation TTL) or, on a token made with `renewGrantMs`, ignores it and grants that;
   * either way capped at the token's max TTL, with Vault's warning.
   */
  #renewSelf(token: TokenRecord, body: Record<string, unknown>): unknown {
    if (!token.renewable || token.expiresAtMs === undefined) throw new HttpFailure(400, ['lease is not renewable'])
    const nowMs = this.clock.now()
    const askedMs = incrementMsOf(body.increment)
    const incrementMs = token.renewGrantMs ?? (askedMs !== undefined && askedMs > 0 ? askedMs : token.creationTtlMs)
    let ttlMs = incrementMs
    const warnings: string[] = []
    if (token.maxExpiresAtMs !== undefined && nowMs + ttlMs > token.maxExpiresAtMs) {
      ttlMs = Math.max(0, token.maxExpiresAtMs - nowMs)
      warnings.push(`TTL of "${goDuration(incrementMs)}" exceeded the effective max_ttl of "${goDuration(ttlMs)}"; TTL value is capped accordingly`)
    }
    token.expiresAtMs = nowMs + ttlMs
    return { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: warnings.length > 0 ? warnings : null, auth: this.#authBlock(token) }
  }

  #authBlock(token: TokenRecord): unknown {
    const ttlS = token.expiresAtMs === undefined ? 0 : Math.max(0, Math.round((token.expiresAtMs - this.clock.now()) / 1000))
    return {
      client_token: token.id, accessor: token.accessor, policies: token.policies, token_policies: token.policies, metadata: token.meta,
      lease_duration: ttlS, renewable: token.renewable, entity_id: '', token_type: 'service', orphan: true, mfa_requirement: null, num_uses: 0,
    }
  }

  #loginResponse(token: TokenRecord): unknown {
    return { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: null, wrap_info: null, warnings: null, auth: this.#authBlock(token) }
  }

  #capabilitiesSelf(ns: Namespace, token: TokenRecord, body: Record<string, unknown>): unknown {
    const paths = Array.isArray(body.paths) ? body.paths.map(String) : typeof body.path === 'string' ? [body.path] : []
    if (paths.length === 0) throw new HttpFailure(400, ['"paths" must be provided'])
    const result: Record<string, unknown> = {}
    const union = new Set<string>()
    for (const path of paths) {
      const caps = this.#capabilities(ns, token, path)
      result[path] = caps
      for (const cap of caps) union.add(cap)
    }
    return { ...result, capabilities: [...union].sort(), request_id: randomUUID(), data: { ...result, capabilities: [...union].sort() } }
  }

  /** Mount details need some capability under the mount, as Vault checks. */
  #mountDetails(ns: Namespace, token: TokenRecord, path: string): unknown {
    const mounts: Record<string, { type: string; options: Record<string, string> | null }> = {
      'secret/': { type: 'kv', options: { version: '2' } },
      'kv/': { type: 'kv', options: { version: '1' } },
      'database/': { type: 'database', options: null },
    }
    const mount = Object.keys(mounts).find((m) => `${path}/`.startsWith(m))
    if (mount === undefined) throw new HttpFailure(400, [`no mount found for path "${path}"`])
    const rules = token.policies.flatMap((name) => Object.keys(ns.policies.get(name) ?? {}))
    if (!token.policies.includes('root') && !rules.some((glob) => glob.startsWith(mount))) throw new HttpFailure(403, ['permission denied'])
    const info = mounts[mount]!
    return {
      request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, warnings: null, auth: null,
      data: { accessor: `${info.type}_${createHash('sha256').update(mount).digest('hex').slice(0, 8)}`, config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false }, description: '', external_entropy_access: false, local: false, options: info.options, path: mount, plugin_version: '', running_plugin_version: 'v1.17.0+builtin', seal_wrap: false, type: info.type, uuid: randomUUID() },
    }
  }

  // ---- KV ----

  #kv2Write(ns: Namespace, key: string, data: Record<string, unknown>): number {
    const versions = ns.kv2.get(key) ?? []
    versions.push({ data, createdAtMs: this.clock.now(), destroyed: false })
    ns.kv2.set(key, versions)
    return versions.length
  }

  #kv2Data(ns: Namespace, token: TokenRecord, method: string, path: string, key: string, url: URL, body: Record<string, unknown>): { body?: unknown } | undefined {
    const versions = ns.kv2.get(key)
    if (method === 'GET') {
      this.#authorize(ns, token, path, 'read')
      if (versions === undefined || versions.length === 0) throw new HttpFailure(404, [])
      const wanted = Number(url.searchParams.get('version') ?? '0')
      const number = wanted > 0 ? wanted : versions.length
      const version = versions[number - 1]
      if (version === undefined) throw new HttpFailure(404, [])
      const metadata = { created_time: new Date(version.createdAtMs).toISOString(), custom_metadata: null, deletion_time: version.deletedAtMs === undefined ? '' : new Date(version.deletedAtMs).toISOString(), destroyed: version.destroyed, version: number }
      // A deleted version answers 404 with its metadata and null data.
      if (version.deletedAtMs !== undefined || version.destroyed) throw new HttpFailure(404, [], { data: { data: null, metadata } })
      return { body: { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: { data: version.data, metadata }, wrap_info: null, warnings: null, auth: null } }
    }
    if (method === 'POST') {
      this.#authorize(ns, token, path, versions === undefined ? 'create' : 'update')
      const data = body.data
      if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new HttpFailure(400, ['no data provided'])
      const version = this.#kv2Write(ns, key, data as Record<string, unknown>)
      return { body: { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data: { created_time: new Date(this.clock.now()).toISOString(), custom_metadata: null, deletion_time: '', destroyed: false, version }, wrap_info: null, warnings: null, auth: null } }
    }
    if (method === 'DELETE') {
      this.#authorize(ns, token, path, 'delete')
      const latest = versions?.at(-1)
      if (latest !== undefined) latest.deletedAtMs = this.clock.now()
      return undefined
    }
    throw new HttpFailure(405, ['unsupported operation'])
  }

  #kv2Metadata(ns: Namespace, key: string): unknown {
    const versions = ns.kv2.get(key)
    if (versions === undefined) throw new HttpFailure(404, [])
    const entries = Object.fromEntries(versions.map((v, i) => [String(i + 1), { created_time: new Date(v.createdAtMs).toISOString(), deletion_time: v.deletedAtMs === undefined ? '' : new Date(v.deletedAtMs).toISOString(), destroyed: v.destroyed }]))
    return {
      request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, warnings: null, auth: null,
      data: { cas_required: false, created_time: entries['1']!.created_time, current_version: versions.length, custom_metadata: null, delete_version_after: '0s', max_versions: 0, oldest_version: 0, updated_time: entries[String(versions.length)]!.created_time, versions: entries },
    }
  }

  // ---- dynamic secrets and leases ----

  #databaseCreds(ns: Namespace, path: string): unknown {
    const roleName = path.slice('database/creds/'.length)
    const role = ns.dbRoles.get(roleName)
    if (role === undefined) throw new HttpFailure(400, [`unknown role: ${roleName}`])
    const nowMs = this.clock.now()
    const lease: Lease = {
      id: `${path}/${randomBytes(12).toString('base64url')}`,
      data: { username: `v-approle-${roleName}-${randomBytes(4).toString('hex')}`, password: `pw-${randomBytes(16).toString('hex')}` },
      durationMs: role.ttlMs,
      renewable: role.renewable ?? true,
      issuedAtMs: nowMs,
      expiresAtMs: nowMs + Math.min(role.ttlMs, role.maxTtlMs),
      maxExpiresAtMs: nowMs + role.maxTtlMs,
      revoked: false,
    }
    this.#leases.set(lease.id, lease)
    return { request_id: randomUUID(), lease_id: lease.id, renewable: lease.renewable, lease_duration: Math.round((lease.expiresAtMs - nowMs) / 1000), data: lease.data, wrap_info: null, warnings: null, auth: null }
  }

  /** Whether a credential issued under a lease still works (the database would accept it). */
  credentialValid(value: string): boolean {
    const nowMs = this.clock.now()
    return [...this.#leases.values()].some((l) => !l.revoked && l.expiresAtMs > nowMs && Object.values(l.data).includes(value))
  }

  #renewLease(body: Record<string, unknown>): unknown {
    const id = String(body.lease_id ?? '')
    const lease = this.#leases.get(id)
    const nowMs = this.clock.now()
    if (lease === undefined || lease.revoked || lease.expiresAtMs <= nowMs) throw new HttpFailure(400, ['lease not found'])
    if (!lease.renewable) throw new HttpFailure(400, ['lease is not renewable'])
    const askedMs = incrementMsOf(body.increment)
    const incrementMs = askedMs !== undefined && askedMs > 0 ? askedMs : lease.durationMs
    const warnings: string[] = []
    let ttlMs = incrementMs
    if (nowMs + ttlMs > lease.maxExpiresAtMs) {
      ttlMs = Math.max(0, lease.maxExpiresAtMs - nowMs)
      warnings.push(`TTL of "${goDuration(incrementMs)}" exceeded the effective max_ttl of "${goDuration(ttlMs)}"; TTL value is capped accordingly`)
    }
    lease.expiresAtMs = nowMs + ttlMs
    return { request_id: randomUUID(), lease_id: lease.id, renewable: lease.renewable, lease_duration: Math.round(ttlMs / 1000), data: null, wrap_info: null, warnings: warnings.length > 0 ? warnings : null, auth: null }
  }

  // ---- auth methods ----

  /** https://developer.hashicorp.com/vault/api-docs/auth/approle#login-with-approle */
  #approleLogin(ns: Namespace, namespace: string, body: Record<string, unknown>): unknown {
    const roleId = String(body.role_id ?? '')
    if (roleId === '') throw new HttpFailure(400, ['missing role_id'])
    const entry = [...ns.approle.entries()].find(([, role]) => role.roleId === roleId)
    if (entry === undefined) throw new HttpFailure(400, ['invalid role or secret ID'])
    const [name, role] = entry
    if (!role.secretIds.has(String(body.secret_id ?? ''))) throw new HttpFailure(400, ['invalid role or secret ID'])
    // The documented AppRole login response lists `token_policies` and no `policies`.
    const response = this.#loginResponse(this.#issueToken(roleToken(role), namespace, 'auth/approle/login', { role_name: name })) as { auth: Record<string, unknown> }
    delete response.auth.policies
    return response
  }

  /** https://developer.hashicorp.com/vault/api-docs/auth/jwt#jwt-login — verified against the configured JWKS. */
  async #jwtLogin(ns: Namespace, namespace: string, body: Record<string, unknown>): Promise<unknown> {
    const roleName = String(body.role ?? '')
    const role = ns.jwtRoles.get(roleName)
    if (role === undefined) throw new HttpFailure(400, [`role "${roleName}" could not be found`])
    if (typeof body.jwt !== 'string' || body.jwt === '') throw new HttpFailure(400, ['missing token'])
    if (ns.jwtConfig === undefined) throw new HttpFailure(400, ['could not load configuration'])
    let claims: Record<string, unknown>
    try {
      const result = await jwtVerify(body.jwt, createLocalJWKSet(ns.jwtConfig.jwks), {
        ...(ns.jwtConfig.boundIssuer === undefined ? {} : { issuer: ns.jwtConfig.boundIssuer }),
        audience: role.boundAudiences,
        currentDate: new Date(this.clock.now()),
        clockTolerance: 60,
      })
      claims = result.payload as Record<string, unknown>
    } catch (error) {
      throw new HttpFailure(400, [`error validating token: ${(error as Error).message}`])
    }
    for (const [claim, expected] of Object.entries(role.boundClaims ?? {})) {
      if (claims[claim] !== expected) throw new HttpFailure(400, [`error validating claims: claim "${claim}" does not match any associated bound claim values`])
    }
    const user = claims[role.userClaim]
    if (typeof user !== 'string') throw new HttpFailure(400, [`claim "${role.userClaim}" not found in token`])
    return this.#loginResponse(this.#issueToken(roleToken(role), namespace, 'auth/jwt/login', { role: roleName, user }))
  }

  /** https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#login — the JWT is what TokenReview knows. */
  #kubernetesLogin(ns: Namespace, namespace: string, body: Record<string, unknown>): unknown {
    const roleName = String(body.role ?? '')
    const role = ns.k8sRoles.get(roleName)
    if (role === undefined) throw new HttpFailure(400, [`invalid role name "${roleName}"`])
    const account = ns.k8sTokens.get(String(body.jwt ?? ''))
    if (account === undefined) throw new HttpFailure(403, ['permission denied'])
    if (!role.serviceAccounts.includes(account.serviceAccount)) throw new HttpFailure(403, ['service account name not authorized'])
    if (!role.namespaces.includes(account.namespace)) throw new HttpFailure(403, ['namespace not authorized'])
    return this.#loginResponse(this.#issueToken(roleToken(role), namespace, 'auth/kubernetes/login', { role: roleName, service_account_name: account.serviceAccount, service_account_namespace: account.namespace }))
  }

  /**
   * https://developer.hashicorp.com/vault/api-docs/auth/aws#login and
   * https://developer.hashicorp.com/vault/docs/auth/aws#iam-auth-method: Vault checks the
   * request's shape and the server-ID header, then forwards it to STS, which checks the
   * SigV4 signature (here: recomputed with the key STS knows) and names the principal.
   */
  async #awsLogin(ns: Namespace, namespace: string, body: Record<string, unknown>): Promise<unknown> {
    const roleName = String(body.role ?? '')
    const role = ns.awsRoles.get(roleName)
    if (role === undefined) throw new HttpFailure(400, [`entry for role ${roleName} not found`])
    if (body.iam_http_request_method !== 'POST') throw new HttpFailure(400, ['invalid iam_http_request_method; only POST is supported'])
    const decode = (key: string) => {
      if (typeof body[key] !== 'string') throw new HttpFailure(400, [`missing ${key}`])
      return Buffer.from(body[key] as string, 'base64').toString('utf8')
    }
    const requestUrl = new URL(decode('iam_request_url'))
    const requestBody = decode('iam_request_body')
    let headers: Record<string, string>
    try {
      const parsed = JSON.parse(decode('iam_request_headers')) as Record<string, string | string[]>
      headers = Object.fromEntries(Object.entries(parsed).map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(',') : value]))
    } catch {
      throw new HttpFailure(400, ['error parsing iam_request_headers'])
    }
    if (!/^sts(\.[a-z0-9-]+)?\.amazonaws\.com$/.test(requestUrl.hostname) || requestUrl.pathname !== '/') throw new HttpFailure(400, ['invalid iam_request_url'])
    const params = new URLSearchParams(requestBody)
    if (params.get('Action') !== 'GetCallerIdentity') throw new HttpFailure(400, ['iam_request_body must be an sts:GetCallerIdentity request'])
    const authorization = headers.authorization ?? ''
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/sts\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(authorization)
    if (match === null) throw new HttpFailure(400, ['error making upstream request: missing or malformed Authorization header'])
    const [, accessKeyId, , region, signedHeaderList] = match as unknown as [string, string, string, string, string]
    const signed = signedHeaderList.split(';')
    if (ns.awsServerId !== undefined) {
      const value = headers['x-vault-aws-iam-server-id']
      if (value === undefined) throw new HttpFailure(400, ['missing header "X-Vault-AWS-IAM-Server-ID"'])
      if (value !== ns.awsServerId) throw new HttpFailure(400, [`expected "${ns.awsServerId}" but got "${value}"`])
      if (!signed.includes('x-vault-aws-iam-server-id')) throw new HttpFailure(400, ['vault header wasn\'t signed'])
    }
    const key = this.#awsKeys.get(accessKeyId)
    const stsRefused = (code: string) => new HttpFailure(400, [`error making upstream request: received error code 403 from STS: <ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code></Error></ErrorResponse>`])
    if (key === undefined) throw stsRefused('InvalidClientTokenId')
    if (key.sessionToken !== undefined && headers['x-amz-security-token'] !== key.sessionToken) throw stsRefused('InvalidClientTokenId')
    if (!(await this.#signatureMatches(requestUrl, requestBody, headers, region, key))) throw stsRefused('SignatureDoesNotMatch')
    if (role.boundPrincipalArn !== key.arn) throw new HttpFailure(403, [`IAM Principal "${key.arn}" does not belong to the role "${roleName}"`])
    return this.#loginResponse(this.#issueToken(roleToken(role), namespace, 'auth/aws/login', { role: roleName, canonical_arn: key.arn }))
  }

  /** STS's check: the same request signed with the secret key it holds gives the same Authorization. */
  async #signatureMatches(url: URL, body: string, headers: Record<string, string>, region: string, key: AwsKey): Promise<boolean> {
    const [{ SignatureV4 }, { Hash }, { HttpRequest }] = await Promise.all([import('@smithy/signature-v4'), import('@smithy/hash-node'), import('@smithy/protocol-http')])
    const amzDate = headers['x-amz-date'] ?? ''
    const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
    if (dateMatch === null) return false
    const [, y, mo, d, h, mi, s] = dateMatch.map(Number) as [number, number, number, number, number, number, number]
    const signingDate = new Date(Date.UTC(y, mo - 1, d, h, mi, s))
    // STS refuses a request signed more than 15 minutes away from its own (real) time.
    if (Math.abs(Date.now() - signingDate.getTime()) > 15 * 60_000) return false
    const unsigned = Object.fromEntries(Object.entries(headers).filter(([name]) => !['authorization', 'x-amz-date', 'x-amz-security-token'].includes(name)))
    const request = new HttpRequest({ method: 'POST', protocol: 'https:', hostname: url.hostname, path: url.pathname, headers: unsigned, body })
    const signer = new SignatureV4({
      credentials: { accessKeyId: /Credential=([^/]+)/.exec(headers.authorization ?? '')![1]!, secretAccessKey: key.secretAccessKey, ...(key.sessionToken === undefined ? {} : { sessionToken: key.sessionToken }) },
      region,
      service: 'sts',
      sha256: Hash.bind(null, 'sha256'),
    })
    const resigned = await signer.sign(request, { signingDate })
    return resigned.headers.authorization === headers.authorization
  }
}

function roleToken(role: RoleTokenOptions): { policies: string[]; ttlMs: number; maxTtlMs: number; renewable: boolean } {
  return { policies: role.policies, ttlMs: role.ttlMs, maxTtlMs: role.maxTtlMs ?? 0, renewable: role.renewable ?? true }
}

/** Starts a Vault test server on an ephemeral loopback port. */
export async function startVaultServer(options: { clock?: ServerClock; tls?: { key: string; cert: string } } = {}): Promise<VaultTestServer> {
  return new VaultTestServer(options).start()
}

/**
 * A renewal `increment` as Vault reads it (parseutil.ParseDurationSecond): a number of seconds, or a
 * string of seconds or Go-style duration ("90", "90s", "30m", "1h30m"). Undefined when absent or unreadable.
 */
function incrementMsOf(increment: unknown): number | undefined {
  if (typeof increment === 'number') return Number.isFinite(increment) ? increment * 1000 : undefined
  if (typeof increment !== 'string' || increment.trim() === '') return undefined
  const text = increment.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  let totalMs = 0
  let rest = text
  while (rest !== '') {
    const part = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest)
    if (part === null) return undefined
    totalMs += Number(part[1]) * units[part[2]!]!
    rest = rest.slice(part[0].length)
  }
  return totalMs
}
