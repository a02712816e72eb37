import type { Clock } from '../clock.js'
import { splitVaultTarget, type Reference } from '../config/references.js'
import { CcredError, isCcredError, withContext } from '../errors.js'
import { authMethod } from './auth/index.js'
import { loginResult, type AuthDeps } from './auth/login.js'
import { VaultClient, VaultHttpError, type VaultBody } from './client.js'
import { connectionKey, plainHttpProblem, type VaultConnectionConfig } from './config.js'
import { vaultError } from './errors.js'
import { apiPathFor, configuredMount, parseMount, pickField, secretFromBody, type MountInfo, type SecretRead } from './kv.js'
import { VaultTokenManager } from './tokens.js'

export interface VaultDeps {
  clock: Clock
  /** The daemon's environment: VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, CI variables. */
  env: Record<string, string | undefined>
  homeDir: string
  readFile(path: string): Promise<string>
  /** Resolves a reference of an auth table; `where` is its dotted config key ("vault.auth.secret_id"). */
  resolveSecret(ref: Reference, where: string): Promise<string>
}

export interface ReadOptions {
  /** Skips detection: the path is KV of this version. */
  kvVersion?: 1 | 2
  /** The KV mount when kvVersion is set (default: the first path segment). */
  mount?: string
}

/**
 * Every Vault connection of one service (the daemon), by config: profiles and
 * `vault:` references that use the same connection share one client and one
 * token. Dropped connections stop renewing.
 */
export class VaultConnections {
  readonly #connections = new Map<string, VaultConnection>()

  constructor(readonly deps: VaultDeps) {}

  get(config: VaultConnectionConfig): VaultConnection {
    const key = connectionKey(config)
    let connection = this.#connections.get(key)
    if (connection === undefined) {
      connection = new VaultConnection(config, this.deps)
      this.#connections.set(key, connection)
    }
    return connection
  }

  /** Closes connections no longer in the config (after a reload). */
  retain(configs: VaultConnectionConfig[]): void {
    const keep = new Set(configs.map(connectionKey))
    for (const [key, connection] of this.#connections) {
      if (keep.has(key)) continue
      connection.close()
      this.#connections.delete(key)
    }
  }

  close(): void {
    this.retain([])
  }

  /** Reads `vault:PATH#field` through a connection (the `[vault]` one). */
  async readReference(config: VaultConnectionConfig, target: string, where: string): Promise<string> {
    const split = splitVaultTarget(target)
    if (split === undefined) throw new CcredError('ERR_REFERENCE', `${where}: "vault:${target}" is not a vault:PATH#field reference`, { hint: 'write it like vault:secret/litellm/signing#private_key' })
    try {
      return pickField(await this.get(config).readSecret(split.path), split.field)
    } catch (error) {
      const base = error instanceof CcredError ? error : vaultError(error, `read ${split.path}`, config.address ?? '?')
      throw withContext(base, where)
    }
  }
}

/** One Vault server + namespace + auth: a node-vault client, a token kept alive, the mounts seen. */
export class VaultConnection {
  readonly tokens: VaultTokenManager
  readonly #config: VaultConnectionConfig
  readonly #deps: VaultDeps
  #client: Promise<VaultClient> | undefined
  readonly #mounts = new Map<string, MountInfo>()

  constructor(config: VaultConnectionConfig, deps: VaultDeps) {
    this.#config = config
    this.#deps = deps
    const login = authMethod(config.auth)
    this.tokens = new VaultTokenManager({
      clock: deps.clock,
      login: async () => login(await this.#authDeps()),
      renewSelf: async (token, incrementS) => {
        const client = await this.client()
        try {
          return loginResult((await client.call((vault, options) => vault.tokenRenewSelf({ increment: incrementS, requestOptions: options }), token)) as VaultBody, 'token renew-self')
        } catch (error) {
          throw vaultError(error, 'token renew-self', client.options.address)
        }
      },
    })
  }

  get config(): VaultConnectionConfig {
    return this.#config
  }

  /** The address in use: the configured one, else VAULT_ADDR. */
  get address(): string | undefined {
    return this.#config.address ?? this.#deps.env.VAULT_ADDR?.replace(/\/+$/, '')
  }

  get namespace(): string | undefined {
    return this.#config.namespace ?? (this.#deps.env.VAULT_NAMESPACE || undefined)
  }

  client(): Promise<VaultClient> {
    if (this.#client === undefined) {
      const creating = this.#createClient()
      this.#client = creating
      // A failed creation (no address, unreadable CA file) is retried on the next call.
      creating.catch(() => { if (this.#client === creating) this.#client = undefined })
    }
    return this.#client
  }

  async #createClient(): Promise<VaultClient> {
    const address = this.address
    if (address === undefined || !/^https?:\/\//.test(address)) {
      throw new CcredError('ERR_CONFIG', `${this.#config.where}: no Vault address: ${address === undefined ? 'address is not set and VAULT_ADDR is not in the daemon\'s environment' : `VAULT_ADDR "${address.slice(0, 80)}" is not an http(s) URL`}`, {
        hint: `set address = "https://vault.example.com" in [${this.#config.where}], or export VAULT_ADDR and run: ccred daemon stop`,
      })
    }
    const httpProblem = this.#config.allowInsecureHttp ? undefined : plainHttpProblem(address)
    if (httpProblem !== undefined) {
      throw new CcredError('ERR_CONFIG', `${this.#config.where}: VAULT_ADDR: ${httpProblem}`, { hint: `use an https:// address, or set allow_insecure_http = true in [${this.#config.where}]` })
    }
    const caPath = this.#config.caCert ?? (this.#deps.env.VAULT_CACERT || undefined)
    let ca: string | undefined
    if (caPath !== undefined) {
      try {
        ca = await this.#deps.readFile(caPath)
      } catch (error) {
        throw new CcredError('ERR_CONFIG', `${this.#config.where}.ca_cert: the CA file ${caPath} cannot be read (${error instanceof CcredError ? error.message : (error as NodeJS.ErrnoException).code ?? 'error'})`, {
          cause: error,
          hint: 'point ca_cert (or VAULT_CACERT) at the PEM file of the CA that signed Vault\'s certificate',
        })
      }
    }
    const namespace = this.namespace
    return VaultClient.create({
      address,
      insecureSkipTlsVerify: this.#config.insecureSkipTlsVerify,
      timeoutMs: this.#config.timeoutMs,
      ...(namespace === undefined ? {} : { namespace }),
      ...(ca === undefined ? {} : { ca }),
    })
  }

  async #authDeps(): Promise<AuthDeps> {
    const client = await this.client()
    return {
      client,
      address: client.options.address,
      env: this.#deps.env,
      homeDir: this.#deps.homeDir,
      readFile: this.#deps.readFile,
      resolve: (ref, key) => this.#deps.resolveSecret(ref, `${this.#config.authWhere}.${key}`),
    }
  }

  /**
   * Runs a call with the connection's token. Vault answers 403 both for a
   * policy that denies the path and for a token that is no longer valid; a
   * lookup-self tells them apart, and a dead token is replaced once.
   */
  async withToken<T>(action: string, path: string | undefined, fn: (client: VaultClient, token: string) => Promise<T>): Promise<T> {
    const client = await this.client()
    const token = await this.tokens.token()
    try {
      return await fn(client, token)
    } catch (error) {
      if (!(error instanceof VaultHttpError && error.status === 403) || !(await this.#tokenRefused(client, token))) {
        throw vaultError(error, action, client.options.address, path)
      }
    }
    this.tokens.invalidate(token)
    const fresh = await this.tokens.token()
    try {
      return await fn(client, fresh)
    } catch (error) {
      throw vaultError(error, action, client.options.address, path)
    }
  }

  async #tokenRefused(client: VaultClient, token: string): Promise<boolean> {
    try {
      await client.call((vault, options) => vault.tokenLookupSelf({ requestOptions: options }), token)
      return false
    } catch (error) {
      return error instanceof VaultHttpError && error.status === 403
    }
  }

  /** Reads a secret: KV v1 or v2 (configured or detected), or any other engine's path (dynamic secrets). */
  async readSecret(path: string, options: ReadOptions = {}): Promise<SecretRead> {
    const { mount, apiPath } = await this.locate(path, options)
    const body = await this.withToken(`read ${apiPath}`, apiPath, (client, token) => client.read(apiPath, token))
    return secretFromBody(body, apiPath, mount)
  }

  /** The engine behind a path and the API path to read ("secret/data/x" for KV v2). */
  async locate(path: string, options: ReadOptions = {}): Promise<{ mount: MountInfo; apiPath: string }> {
    const mount = options.kvVersion === undefined ? await this.#mountOf(path) : configuredMount(path, options.kvVersion, options.mount)
    return { mount, apiPath: apiPathFor(path, mount) }
  }

  /** The engine behind a path, asked once per path (sys/internal/ui/mounts, as `vault kv` does). */
  async #mountOf(path: string): Promise<MountInfo> {
    const known = this.#mounts.get(path)
    if (known !== undefined) return known
    let mount: MountInfo | undefined
    try {
      const body = await this.withToken(`read ${path}`, path, (client, token) => client.read(`sys/internal/ui/mounts/${path}`, token))
      mount = parseMount(body)
    } catch (error) {
      // No mount information (an old Vault, or no mount there): read the path as it is written.
      const status = isCcredError(error, 'ERR_SOURCE_UNAVAILABLE') ? error.detail.httpStatus : undefined
      if (status !== 400 && status !== 404) throw error
    }
    const info = mount ?? { path: '', type: 'unknown' }
    this.#mounts.set(path, info)
    return info
  }

  /**
   * sys/leases/renew: https://developer.hashicorp.com/vault/api-docs/system/leases#renew-lease
   * Vault grants at most what the lease's max TTL leaves.
   */
  async renewLease(leaseId: string, incrementS: number): Promise<{ leaseDurationS: number; renewable: boolean }> {
    const body = await this.withToken('renew lease', 'sys/leases/renew', (client, token) =>
      client.call((vault, options) => vault.renew({ lease_id: leaseId, increment: incrementS, requestOptions: options }), token)) as VaultBody
    return { leaseDurationS: typeof body.lease_duration === 'number' ? body.lease_duration : 0, renewable: body.renewable === true }
  }

  close(): void {
    this.tokens.close()
  }
}
