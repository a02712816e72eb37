/**
 * The daemon's wire contract: every `/v1/...` route, what its request and its
 * answer carry, and the one parser per request body. The client, the server, the
 * in-process fallback and the service all use these types, so a field has one
 * name and one default from `ccred get` to the broker.
 *
 * On the warm `get` path: it imports only light modules (no config parser, no SDK).
 */
import { DEFAULT_HELPER_TTL_MS, HELPER_HOOKS, type CallerMarks, type HelperHook } from './claude/helper-context.js'
import type { Header } from './config/settings.js'
import type { CredentialBody } from './credential.js'
import { isProfileName } from './config/profile-name.js'
import { CcredError, type CcredErrorJson } from './errors.js'
import type { StoreAvailability } from './store/store.js'
import { sanitizeLine } from './text/sanitize.js'

export type { CallerMarks, HelperHook } from './claude/helper-context.js'

/** Bumped when a route or a field changes meaning; `GET /v1/health` reports it. */
export const PROTOCOL_VERSION = 2

export const ROUTES = {
  health: '/v1/health',
  credential: '/v1/credential',
  status: '/v1/status',
  profiles: '/v1/profiles',
  purge: '/v1/purge',
  shutdown: '/v1/shutdown',
  relayOpen: '/v1/relay/open',
  relayList: '/v1/relay/list',
  relayClose: '/v1/relay/close',
} as const

// ---- POST /v1/credential ------------------------------------------------------------

/** `POST /v1/credential`: a credential for one profile, as one caller needs it. */
export interface CredentialRequest {
  profile: string
  /** How long the caller keeps using the value (its helper TTL); default DEFAULT_HELPER_TTL_MS. */
  callerTtlMs: number
  /** `ccred get --refresh`: a new value whatever the cache holds. */
  forceRefresh?: boolean
  /** The caller says the value it holds was refused (true) or not (false); absent: it cannot say. */
  rejected?: boolean
  /**
   * The client's stdin is a terminal: a person at a shell, not Claude Code (whose
   * helper stdin is a pipe). Asking twice by hand is not a 401, so no re-issue.
   */
  interactive?: boolean
  /** pid of the ccred client; the caller is its nearest non-shell ancestor. */
  clientPid?: number
  /** The client's parent pid, which saves the daemon a /proc read. */
  clientParentPid?: number
  /** When the client process started (epoch ms): a 401 re-run starts after the value was given. */
  clientStartedAtMs?: number
  /** The config file the client uses: a daemon reading another one refuses (ERR_DAEMON). */
  configPath?: string
  /** What the client's environment says about who ran it (Claude Code or not, which hook). */
  caller?: CallerMarks
  /** `get --format headers`: answer with the profile's header set (a `headers` body, whatever the source's kind). */
  headerSet?: boolean
}

/**
 * The answer: what the client needs to print the credential, and its body tagged
 * by `kind` (a token: `value` and `scheme`; AWS credentials: `accessKeyId`,
 * `secretAccessKey`, `sessionToken`; headers: `headers`). `header` is the
 * profile's header; which header `get` prints is the client's choice (its
 * `--header` option, or Claude Code's proxyAuthHelper context), made after the answer.
 */
export type IssuedCredential = IssuedFacts & CredentialBody

export interface IssuedFacts {
  profile: string
  source: string
  header: Header
  expiresAt?: string
  served: string
  warning?: string
}

const API_HINT = 'see docs/daemon.md#daemon-api'
const CREDENTIAL_FIELDS = new Set<string>(['profile', 'callerTtlMs', 'forceRefresh', 'rejected', 'interactive', 'clientPid', 'clientParentPid', 'clientStartedAtMs', 'configPath', 'caller', 'headerSet'])
const CALLER_FIELDS = new Set<string>(['hook', 'aiAgent', 'agentShell', 'entrypoint', 'mcpServer'])

/** A parsed `POST /v1/credential` body; every absent field takes its one default here. */
export function parseCredentialRequest(body: Record<string, unknown>): CredentialRequest {
  refuseUnknownFields(body, CREDENTIAL_FIELDS, '')
  const request: CredentialRequest = {
    profile: requireProfile(body),
    callerTtlMs: optionalNumber(body, 'callerTtlMs') ?? DEFAULT_HELPER_TTL_MS,
    forceRefresh: optionalBoolean(body, 'forceRefresh') ?? false,
    interactive: optionalBoolean(body, 'interactive') ?? false,
  }
  const rejected = optionalBoolean(body, 'rejected')
  if (rejected !== undefined) request.rejected = rejected
  for (const key of ['clientPid', 'clientParentPid', 'clientStartedAtMs'] as const) {
    const value = optionalNumber(body, key)
    if (value !== undefined) request[key] = value
  }
  const configPath = optionalString(body, 'configPath')
  if (configPath !== undefined) request.configPath = configPath
  if (body.caller !== undefined) request.caller = parseCallerMarks(body.caller)
  if (optionalBoolean(body, 'headerSet') === true) request.headerSet = true
  return request
}

function parseCallerMarks(value: unknown): CallerMarks {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw protocolError('"caller" must be an object')
  const body = value as Record<string, unknown>
  refuseUnknownFields(body, CALLER_FIELDS, 'caller.')
  const hook = body.hook ?? 'unknown'
  if (!(HELPER_HOOKS as readonly unknown[]).includes(hook)) throw protocolError(`"caller.hook" must be one of ${HELPER_HOOKS.join(', ')}`)
  const marks: CallerMarks = { hook: hook as HelperHook }
  const aiAgent = optionalString(body, 'aiAgent', 'caller.')
  if (aiAgent !== undefined) marks.aiAgent = aiAgent
  const agentShell = optionalBoolean(body, 'agentShell', 'caller.')
  if (agentShell !== undefined) marks.agentShell = agentShell
  const entrypoint = optionalString(body, 'entrypoint', 'caller.')
  if (entrypoint !== undefined) marks.entrypoint = entrypoint
  const mcpServer = optionalString(body, 'mcpServer', 'caller.')
  if (mcpServer !== undefined) marks.mcpServer = mcpServer
  return marks
}

// ---- POST /v1/purge ------------------------------------------------------------------

/** `POST /v1/purge`: drop a profile's cached value (its secret changed). */
export interface PurgeRequest {
  profile: string
}

export interface PurgeResponse {
  /** Whether the daemon held a value for the profile. */
  purged: boolean
}

export function parsePurgeRequest(body: Record<string, unknown>): PurgeRequest {
  return { profile: requireProfile(body) }
}

// ---- POST /v1/relay/open, GET /v1/relay/list, POST /v1/relay/close (docs/relay.md) ------

/** `POST /v1/relay/open`: a loopback route that forwards to `upstream` with the profile's credential. */
export interface RelayOpenRequest {
  profile: string
  /** The one upstream of the route: an http(s) base URL; its path is the route's path prefix. */
  upstream: string
  /** A kept route's name (`ccred relay start`); absent: a route for one `exec --relay` child. */
  name?: string
  /** The route closes when this process is gone (`ccred exec --relay`). */
  ownerPid?: number
  /** A kept route opened again (after a daemon restart) keeps its port and key, so an app's config stays right. */
  port?: number
  key?: string
}

/** A route as `list` shows it: never its local key. */
export interface RelayRouteListing {
  name: string
  profile: string
  upstream: string
  /** What a client uses as its base URL: loopback, the route's port, the upstream's path prefix. */
  baseUrl: string
  ownerPid?: number
  openedAt: string
  requests: number
}

/** The local key is given once, to the owner who opened the route over the daemon's private socket. */
export interface RelayOpenResponse {
  route: RelayRouteListing
  key: string
}

export interface RelayListResponse {
  routes: RelayRouteListing[]
}

export interface RelayCloseRequest {
  name: string
}

export interface RelayCloseResponse {
  closed: boolean
}

const RELAY_OPEN_FIELDS = new Set<string>(['profile', 'upstream', 'name', 'ownerPid', 'port', 'key'])

export function parseRelayOpenRequest(body: Record<string, unknown>): RelayOpenRequest {
  refuseUnknownFields(body, RELAY_OPEN_FIELDS, '')
  const request: RelayOpenRequest = { profile: requireProfile(body), upstream: requireString(body, 'upstream') }
  const name = optionalString(body, 'name')
  if (name !== undefined) request.name = requireRouteName(name)
  const ownerPid = optionalNumber(body, 'ownerPid')
  if (ownerPid !== undefined) request.ownerPid = ownerPid
  const port = optionalNumber(body, 'port')
  if (port !== undefined) {
    if (!Number.isInteger(port) || port < 1024 || port > 65535) throw protocolError('"port" must be an integer from 1024 to 65535')
    request.port = port
  }
  const key = optionalString(body, 'key')
  if (key !== undefined) {
    // At least 128 bits, as hex: a key given back by its owner, never a weak one.
    if (!/^[0-9a-f]{32,128}$/.test(key)) throw protocolError('"key" must be 32 to 128 lowercase hex digits')
    request.key = key
  }
  return request
}

export function parseRelayCloseRequest(body: Record<string, unknown>): RelayCloseRequest {
  refuseUnknownFields(body, new Set(['name']), '')
  return { name: requireRouteName(requireString(body, 'name')) }
}

/** A route name is a file name in the runtime directory: the profile-name alphabet. */
function requireRouteName(name: string): string {
  if (!isProfileName(name)) throw protocolError('"name" uses letters, digits, ".", "_" and "-" (at most 64)')
  return name
}

// ---- GET /v1/health, GET /v1/status, GET /v1/profiles, POST /v1/shutdown ----------------

/** The running daemon's facts. */
export interface DaemonInfo {
  pid: number
  version: string
  startedAt: string
  socket: string
  configPath: string
}

export interface HealthResponse extends DaemonInfo {
  ok: true
  protocol: number
}

export interface ProfileListing {
  name: string
  source: string
  header: Header
  description?: string
  error?: CcredErrorJson
}

export interface ProfilesResponse {
  profiles: ProfileListing[]
}

/** One profile's cache facts as the broker reports them (never a secret). */
export interface ProfileStatus {
  profile: string
  source: string
  header: Header
  cached: boolean
  expiresAt?: string
  lastRefreshAt?: string
  nextRefreshAt?: string
  refreshing: boolean
  lastError?: { code: string; message: string; at: string }
  consecutiveFailures: number
  hits: number
  fetches: number
  reissues: number
  warning?: string
  meta?: Record<string, string>
  /** The upstream budget (issue 12); absent for a profile not asked for yet. */
  budget?: BudgetStatus
}

/** The upstream budget of a profile as `status` shows it (see src/broker/budget.ts). */
export interface BudgetStatus {
  /** Forced refreshes and re-issues left now, of `forcedCapacity`; one more every `forcedRefillMs`. */
  forcedTokens: number
  forcedCapacity: number
  forcedRefillMs: number
  /** A failing source is not called again before this (foreground gets get the remembered error). */
  backoffUntil?: string
  /** The largest minimum validity (TTL + skew) a caller asked for lately: the refresh-ahead target. */
  minValidityMs?: number
  /** How long the cached value lived when fetched, and the largest helper TTL it can serve safely. */
  lifetimeMs?: number
  safeHelperTtlMs?: number
}

/** What the service knows: config, store, audit log, and each profile's cache facts (never a secret). */
export interface ServiceStatus {
  config: { path: string; fromFile: boolean; error?: CcredErrorJson }
  store: { kind: string; description: string; availability?: StoreAvailability }
  audit: { path: string } | null
  profiles: (ProfileStatus & { description?: string })[]
}

/** `GET /v1/status`; without a daemon, `ccred status` builds the same shape with `running: false`. */
export interface StatusResponse extends ServiceStatus {
  daemon: { running: boolean; pid?: number; version?: string; socket: string; uptimeMs?: number; startedAt?: string; configPath?: string }
}

export interface ShutdownResponse {
  stopping: true
}

// ---- field readers -------------------------------------------------------------------

function protocolError(message: string): CcredError {
  return new CcredError('ERR_PROTOCOL', message, { hint: API_HINT })
}

/** A field this daemon does not know is refused, not ignored: a client of another version learns it at once. */
function refuseUnknownFields(body: Record<string, unknown>, known: Set<string>, prefix: string): void {
  for (const key of Object.keys(body)) {
    if (!known.has(key)) {
      throw new CcredError('ERR_PROTOCOL', `unknown field "${prefix}${sanitizeLine(key, 40)}" (this daemon speaks protocol ${PROTOCOL_VERSION})`, {
        hint: 'the daemon may be a different ccred version; run: ccred daemon stop',
      })
    }
  }
}

function requireString(body: Record<string, unknown>, key: string): string {
  const value = body[key]
  if (typeof value !== 'string' || value === '') throw protocolError(`"${key}" must be a non-empty string`)
  return value
}

function optionalString(body: Record<string, unknown>, key: string, prefix = ''): string | undefined {
  const value = body[key]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw protocolError(`"${prefix}${key}" must be a string`)
  return value
}

/**
 * The profile name, refused before any lookup unless it could name a profile: a
 * name with "../", a NUL, a line break or 10 KB of text never reaches the service,
 * a store key or a message (it is not quoted back).
 */
function requireProfile(body: Record<string, unknown>): string {
  const name = requireString(body, 'profile')
  if (!isProfileName(name)) {
    throw new CcredError('ERR_PROFILE_UNKNOWN', 'no such profile: a profile name uses letters, digits, ".", "_" and "-" (at most 64)', {
      hint: 'list the profiles with: ccred profiles',
    })
  }
  return name
}

function optionalNumber(body: Record<string, unknown>, key: string): number | undefined {
  const value = body[key]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw protocolError(`"${key}" must be a non-negative number`)
  return value
}

function optionalBoolean(body: Record<string, unknown>, key: string, prefix = ''): boolean | undefined {
  const value = body[key]
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw protocolError(`"${prefix}${key}" must be true or false`)
  return value
}
