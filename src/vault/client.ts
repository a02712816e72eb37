import type NodeVault from 'node-vault'
import { standaloneBuild } from '../executable.js'
import { withDeadline } from '../net/deadline.js'

/** Vault answered with an error status; `errors` is its `{"errors": [...]}` body. */
export class VaultHttpError extends Error {
  constructor(readonly status: number, readonly errors: string[]) {
    super(errors.length > 0 ? errors.join('; ') : `HTTP ${status}`)
    this.name = 'VaultHttpError'
  }
}

/** Vault did not answer: unreachable, too slow, or TLS failed. */
export class VaultTransportError extends Error {
  constructor(readonly reason: 'timeout' | 'unreachable' | 'tls' | 'other', readonly detail: string) {
    super(detail)
    this.name = 'VaultTransportError'
  }
}

export interface VaultClientOptions {
  address: string
  namespace?: string
  /** PEM text of the CA bundle that verifies Vault's certificate. */
  ca?: string
  insecureSkipTlsVerify: boolean
  timeoutMs: number
}

/** Per-call options node-vault passes to its HTTP layer (axios). */
export interface VaultRequestOptions {
  timeout: number
  headers: Record<string, string>
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|EPROTO/
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ERR_SOCKET_CONNECTION_TIMEOUT'])

/**
 * A thin wrapper over node-vault: one client per connection, every call with the
 * connection's timeout and an explicit token (node-vault would otherwise fall
 * back to VAULT_TOKEN from the process environment), a hard deadline on top of
 * the socket timeout, and errors turned into VaultHttpError / VaultTransportError.
 */
export class VaultClient {
  private constructor(readonly vault: NodeVault.client, readonly options: VaultClientOptions) {}

  static async create(options: VaultClientOptions): Promise<VaultClient> {
    const { default: nodeVault } = await import('node-vault')
    await capResponseSize()
    const vault = nodeVault({
      endpoint: options.address,
      apiVersion: 'v1',
      // Set explicitly: node-vault reads VAULT_SKIP_VERIFY from the process environment otherwise.
      requestOptions: {
        strictSSL: !options.insecureSkipTlsVerify,
        timeout: options.timeoutMs,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    })
    // No token and no namespace from the process environment: ccred passes both explicitly.
    vault.token = ''
    ;(vault as unknown as { namespace: string }).namespace = options.namespace ?? ''
    return new VaultClient(vault, options)
  }

  /** Request options for one call, carrying the token when there is one. */
  requestOptions(token?: string): VaultRequestOptions {
    return { timeout: this.options.timeoutMs, headers: token === undefined ? {} : { 'X-Vault-Token': token } }
  }

  /**
   * Runs one node-vault call with a hard deadline. A login call makes node-vault
   * remember the new token as its default; that is undone, so every call names
   * its token and no request carries a token it should not.
   */
  async call<T>(fn: (vault: NodeVault.client, requestOptions: VaultRequestOptions) => Promise<T>, token?: string): Promise<T> {
    try {
      const result = await withDeadline(fn(this.vault, this.requestOptions(token)), this.options.timeoutMs + 250,
        () => new VaultTransportError('timeout', `no answer within ${this.options.timeoutMs} ms`))
      // axios hands back a body that does not parse as JSON as a plain string, and node-vault
      // passes it on: without this check an HTML error page from a proxy on the way would
      // surface as a misleading "holds no fields".
      if (typeof result === 'string' && result.trim() !== '') throw new VaultTransportError('other', 'the answer is not JSON (is something else answering at this address, such as a proxy?)')
      return result
    } catch (error) {
      throw classify(error, this.options.timeoutMs)
    } finally {
      this.vault.token = ''
    }
  }

  read(path: string, token: string): Promise<VaultBody> {
    return this.call((vault, options) => vault.read(path, options) as Promise<VaultBody>, token)
  }

  write(path: string, body: Record<string, unknown>, token?: string): Promise<VaultBody> {
    return this.call((vault, options) => vault.write(path, body, options) as Promise<VaultBody>, token)
  }
}

/** A Vault answer is a few KiB; anything near this is not Vault (a proxy's error page, a hostile server). */
export const MAX_VAULT_RESPONSE_BYTES = 1024 * 1024

/**
 * Bounds what node-vault reads. node-vault passes no size option through to axios
 * (its per-call wrapper forwards timeout and agents only), and axios by default
 * reads a body of any size into memory: a misbehaving upstream sending 50 MB would
 * grow the daemon by that much before the timeout. axios.create() merges
 * axios.defaults into each instance, so the cap is set on the axios module
 * node-vault itself requires, before the client is created. Nothing else in ccred
 * uses axios.
 */
async function capResponseSize(): Promise<void> {
  const { createRequire } = await import('node:module')
  // The executable has no node_modules: its bundle holds one axios, the one this literal require names.
  const axios = (standaloneBuild() !== undefined ? require('axios') : createRequire(createRequire(import.meta.url).resolve('node-vault'))('axios')) as { default?: { defaults: Record<string, unknown> }; defaults?: Record<string, unknown> }
  const defaults = (axios.defaults ?? axios.default?.defaults)!
  defaults.maxContentLength = MAX_VAULT_RESPONSE_BYTES
  defaults.maxBodyLength = MAX_VAULT_RESPONSE_BYTES
}

/** A Vault JSON response (https://developer.hashicorp.com/vault/api-docs#http-status-codes). */
export interface VaultBody {
  data?: Record<string, unknown> | null
  lease_id?: string
  lease_duration?: number
  renewable?: boolean
  auth?: { client_token?: string; lease_duration?: number; renewable?: boolean; policies?: string[]; token_policies?: string[] } | null
  warnings?: string[] | null
  [key: string]: unknown
}

function classify(error: unknown, timeoutMs: number): Error {
  if (error instanceof VaultHttpError || error instanceof VaultTransportError) return error
  const response = (error as { response?: { statusCode?: unknown; body?: unknown } }).response
  if (response !== undefined && typeof response.statusCode === 'number') {
    const body = response.body as { errors?: unknown } | undefined
    const errors = Array.isArray(body?.errors) ? body.errors.filter((e): e is string => typeof e === 'string') : []
    return new VaultHttpError(response.statusCode, errors)
  }
  const code = String((error as NodeJS.ErrnoException).code ?? '')
  const message = error instanceof Error ? error.message : String((error as { message?: unknown }).message ?? error)
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout/i.test(message)) {
    return new VaultTransportError('timeout', `no answer within ${timeoutMs} ms`)
  }
  if (UNREACHABLE_CODES.has(code)) return new VaultTransportError('unreachable', code)
  if (TLS_CODES.test(code)) return new VaultTransportError('tls', `${code}: ${message}`)
  return new VaultTransportError('other', code === '' ? message : `${code}: ${message}`)
}
