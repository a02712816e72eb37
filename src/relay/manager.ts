import { randomBytes } from 'node:crypto'
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici'
import { CcredError } from '../errors.js'
import type { RelayOpenRequest, RelayOpenResponse, RelayRouteListing } from '../protocol.js'
import { RelayRoute, type RelayExchange } from './route.js'

/** 256 bits from the system's CSPRNG: the only thing between another local user and the credential. */
const LOCAL_KEY_BYTES = 32
/** How often routes of `exec --relay` children are checked for a gone owner (a killed `ccred exec`). */
const OWNER_CHECK_MS = 2_000
/** Idle keep-alive connections to the upstream are kept this long (LLM gateways keep theirs ~60 s). */
const UPSTREAM_KEEP_ALIVE_MS = 30_000

export interface RelayManagerOptions {
  env: Record<string, string | undefined>
  /** The profile's header set (`get --format headers`), from the service; `rejected`: the one sent was refused. */
  credentialHeaders(profile: string, rejected: boolean): Promise<Record<string, string>>
  onExchange(exchange: RelayExchange): void
  ownerAlive(pid: number): boolean
  now(): number
}

interface Opened {
  route: RelayRoute
  profile: string
  key: string
  ownerPid?: number
  openedAt: string
}

/**
 * The daemon's relay routes: opens, lists and closes them, shares one pooled
 * upstream client, and closes a child's route when its `ccred exec` is gone.
 * Loaded by the daemon only when the first route opens.
 */
export class RelayManager {
  readonly #options: RelayManagerOptions
  readonly #routes = new Map<string, Opened>()
  readonly #dispatcher: Dispatcher
  #ownerCheck: NodeJS.Timeout | undefined

  constructor(options: RelayManagerOptions) {
    this.#options = options
    this.#dispatcher = upstreamDispatcher(options.env)
  }

  get size(): number {
    return this.#routes.size
  }

  async open(request: RelayOpenRequest): Promise<RelayOpenResponse> {
    const upstream = parseUpstream(request.upstream)
    const name = request.name ?? `exec-${request.ownerPid ?? 'x'}-${randomBytes(4).toString('hex')}`
    const existing = this.#routes.get(name)
    if (existing !== undefined) {
      // `relay start` twice is the same route (same key): apps configured once keep working.
      if (existing.profile === request.profile && existing.route.upstream.href === upstream.href) return { route: this.#listing(name, existing), key: existing.key }
      throw new CcredError('ERR_USAGE', `a relay route named ${name} is already open for another profile or upstream`, { hint: `stop it first: ccred relay stop ${name}` })
    }
    const key = request.key ?? randomBytes(LOCAL_KEY_BYTES).toString('hex')
    const profile = request.profile
    const route = new RelayRoute({
      name,
      upstream,
      key,
      dispatcher: this.#dispatcher,
      now: this.#options.now,
      onExchange: this.#options.onExchange,
      credentialHeaders: async (refused) => {
        // Another request may already hold the replacement: use it rather than ask the broker to re-issue.
        const current = await this.#options.credentialHeaders(profile, false)
        if (refused === undefined || !sameHeaders(current, refused)) return current
        return this.#options.credentialHeaders(profile, true)
      },
    })
    await route.listen(request.port ?? 0).catch((error: NodeJS.ErrnoException) => {
      throw new CcredError('ERR_USAGE', `cannot listen on 127.0.0.1:${request.port ?? 0} for relay route ${name}: ${error.code ?? error.message}`, { hint: 'stop what uses the port, or start the route without --port', cause: error })
    })
    const opened: Opened = { route, profile, key, openedAt: new Date(this.#options.now()).toISOString(), ...(request.ownerPid === undefined ? {} : { ownerPid: request.ownerPid }) }
    this.#routes.set(name, opened)
    if (opened.ownerPid !== undefined) this.#watchOwners()
    return { route: this.#listing(name, opened), key }
  }

  list(): RelayRouteListing[] {
    return [...this.#routes].map(([name, opened]) => this.#listing(name, opened)).sort((a, b) => a.name.localeCompare(b.name))
  }

  async close(name: string): Promise<boolean> {
    const opened = this.#routes.get(name)
    if (opened === undefined) return false
    this.#routes.delete(name)
    await opened.route.close()
    return true
  }

  async closeAll(): Promise<void> {
    clearInterval(this.#ownerCheck)
    await Promise.all([...this.#routes.keys()].map((name) => this.close(name)))
    await this.#dispatcher.close().catch(() => undefined)
  }

  #listing(name: string, opened: Opened): RelayRouteListing {
    return {
      name,
      profile: opened.profile,
      upstream: opened.route.upstream.href,
      baseUrl: opened.route.baseUrl,
      openedAt: opened.openedAt,
      requests: opened.route.requests,
      ...(opened.ownerPid === undefined ? {} : { ownerPid: opened.ownerPid }),
    }
  }

  #watchOwners(): void {
    if (this.#ownerCheck !== undefined) return
    this.#ownerCheck = setInterval(() => {
      for (const [name, opened] of this.#routes) {
        if (opened.ownerPid !== undefined && !this.#options.ownerAlive(opened.ownerPid)) void this.close(name)
      }
    }, OWNER_CHECK_MS)
    this.#ownerCheck.unref()
  }
}

function sameHeaders(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key])
}

/** An http(s) base URL without credentials, query or fragment: the route's one upstream. */
export function parseUpstream(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new CcredError('ERR_USAGE', 'the relay upstream is not a URL', { hint: 'give a base URL, e.g. --upstream https://litellm.example.com' })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CcredError('ERR_USAGE', 'the relay upstream must be an http:// or https:// URL', { hint: 'e.g. --upstream https://litellm.example.com' })
  if (url.username !== '' || url.password !== '') throw new CcredError('ERR_USAGE', 'the relay upstream URL must not hold credentials', { hint: 'the credential comes from the profile' })
  if (url.search !== '' || url.hash !== '') throw new CcredError('ERR_USAGE', 'the relay upstream URL must not hold a query or fragment', { hint: 'give the base URL only' })
  return url
}

/**
 * One pooled, keep-alive client for every route. HTTPS_PROXY / HTTP_PROXY /
 * NO_PROXY of the daemon's environment route it through a corporate proxy;
 * NODE_EXTRA_CA_CERTS is honoured by Node's TLS, which undici uses.
 */
function upstreamDispatcher(env: Record<string, string | undefined>): Dispatcher {
  const httpsProxy = env.HTTPS_PROXY ?? env.https_proxy
  const httpProxy = env.HTTP_PROXY ?? env.http_proxy
  const options = { keepAliveTimeout: UPSTREAM_KEEP_ALIVE_MS, connections: 256 }
  if (httpsProxy === undefined && httpProxy === undefined) return new Agent(options)
  const noProxy = env.NO_PROXY ?? env.no_proxy
  return new EnvHttpProxyAgent({ ...options, ...(httpsProxy === undefined ? {} : { httpsProxy }), ...(httpProxy === undefined ? {} : { httpProxy }), ...(noProxy === undefined ? {} : { noProxy }) })
}
