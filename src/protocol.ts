/**
 * The daemon's wire contract: every `/v1/...` route, what its request and its
 * answer carry, and the one parser per request body. The client, the server, the
 * in-process fallback and the service all use these types, so a field has one
 * name and one default from `ccred get` to the broker.
 *
 * On the warm `get` path: it imports only light modules (no config parser, no SDK).
 */
import { TableReader } from './config/fields.js'
import { boolean, compact, parseWith, ProblemsRecorded, raw, string, table, type Field } from './config/schema.js'
import type { Header } from './config/settings.js'
import type { CredentialBody } from './credential.js'
import { isProfileName } from './config/profile-name.js'
import { CcredError, type CcredErrorJson } from './errors.js'
import type { StoreAvailability } from './store/store.js'
import { sanitizeLine } from './text/sanitize.js'

/** Bumped when a route or a field changes meaning; `GET /v1/health` reports it. */
export const PROTOCOL_VERSION = 3

export const ROUTES = {
  health: '/v1/health',
  /** The daemon proves it holds this start's key (rendezvous/daemon-proof.ts); Windows clients ask before anything else. */
  hello: '/v1/hello',
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
  /**
   * How long the caller keeps using the value, when the command knows (`aws-export`,
   * doctor); absent, the caller's kind says (src/callers/: a helper TTL variable, an
   * agent's refresh interval).
   */
  callerTtlMs?: number
  /** `ccred get --refresh`: a new value whatever the cache holds. */
  forceRefresh?: boolean
  /** The command says the value its caller holds was refused (true) or not (false); absent: the caller's kind decides. */
  rejected?: boolean
  /**
   * The client's stdin is a terminal: a person at a shell, not an agent (whose
   * helper stdin is a pipe). Asking twice by hand is not a 401, so no re-issue.
   */
  interactive?: boolean
  /** pid of the ccred client; the caller is its nearest non-shell ancestor. */
  clientPid?: number
  /** The client's parent pid, which saves the daemon a process read (and is all Windows gives). */
  clientParentPid?: number
  /** When the client process started (epoch ms): a 401 re-run starts after the value was given. */
  clientStartedAtMs?: number
  /** The config file the client uses: a daemon reading another one refuses (ERR_DAEMON). */
  configPath?: string
  /**
   * The client's environment marks: the variables the caller kinds declare
   * (src/callers/registry.ts gatherMarks), each a bounded value, "1" or a digest;
   * never a secret. The daemon decides the kind from them and the process ancestry.
   */
  callerMarks?: Record<string, string>
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
/** At most this many marks, each name an environment variable's, each value this long (a digest, "1", a version). */
const MAX_MARKS = 64
const MAX_MARK_CHARS = 200

/** A non-negative number: a pid, a start time, a TTL in ms. */
function count(key: string): Field<number | undefined> {
  return raw(key, (value, problem) => {
    if (value === undefined) return undefined
    return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : problem('must be a non-negative number')
  })
}

function optionalBoolean(key: string): Field<boolean | undefined> {
  return raw(key, (value, problem) => (value === undefined || typeof value === 'boolean' ? value : problem('must be true or false')))
}

const callerMarks: Field<Record<string, string> | undefined> = raw('callerMarks', (value, problem) => {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return problem('must be an object of environment variable names and strings')
  const entries = Object.entries(value)
  if (entries.length > MAX_MARKS) return problem(`holds more than ${MAX_MARKS} marks`)
  for (const [name, mark] of entries) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,99}$/.test(name)) return problem('names must be environment variable names')
    if (typeof mark !== 'string' || mark.length > MAX_MARK_CHARS) return problem(`values must be strings of at most ${MAX_MARK_CHARS} characters`)
  }
  return Object.fromEntries(entries) as Record<string, string>
})

/** The body of `POST /v1/credential`, read by the combinators that read the config (every problem at once, unknown fields refused). */
const credentialRequestFields = table(
  {
    // Checked before the table (requireProfile): its own error code.
    profile: raw('profile', (value) => value as string),
    callerTtlMs: count('callerTtlMs'),
    forceRefresh: boolean('forceRefresh', false),
    rejected: optionalBoolean('rejected'),
    interactive: boolean('interactive', false),
    clientPid: count('clientPid'),
    clientParentPid: count('clientParentPid'),
    clientStartedAtMs: count('clientStartedAtMs'),
    configPath: string('configPath'),
    callerMarks,
    headerSet: boolean('headerSet', false),
  },
  { closed: true },
)

/** A parsed `POST /v1/credential` body; every absent field takes its one default here. */
export function parseCredentialRequest(body: Record<string, unknown>): CredentialRequest {
  requireProfile(body)
  const { headerSet, ...request } = compact(readBody(credentialRequestFields, body))
  return headerSet ? { ...request, headerSet } : request
}

/**
 * A request body read by the combinators that read the config: every problem at once, and a
 * field this daemon does not know refused, not ignored (a client of another version learns it at once).
 */
function readBody<T>(fields: Field<T>, body: Record<string, unknown>): T {
  // The reader names an unknown key in its message: one that is not even a field name is refused without being quoted back.
  for (const key of Object.keys(body)) {
    if (!/^[A-Za-z]{1,40}$/.test(key)) throw new CcredError('ERR_PROTOCOL', `unknown field "${sanitizeLine(key, 40)}" (this daemon speaks protocol ${PROTOCOL_VERSION})`, { hint: 'the daemon may be a different ccred version; run: ccred daemon stop' })
  }
  const reader = new TableReader(body, 'request')
  try {
    return parseWith(fields, reader)
  } catch (error) {
    if (!(error instanceof ProblemsRecorded)) throw error
    const unknownField = reader.problems.some((problem) => problem.includes('unknown key'))
    throw new CcredError('ERR_PROTOCOL', `${reader.problems.join('; ')} (this daemon speaks protocol ${PROTOCOL_VERSION})`, {
      hint: unknownField ? 'the daemon may be a different ccred version; run: ccred daemon stop' : API_HINT,
    })
  }
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

/** A route name is a file name in the runtime directory: the profile-name alphabet. */
function routeName(key: string): Field<string | undefined> {
  return raw(key, (value, problem) => {
    if (value === undefined) return undefined
    return typeof value === 'string' && isProfileName(value) ? value : problem('uses letters, digits, ".", "_" and "-" (at most 64)')
  })
}

const relayOpenFields = table(
  {
    // Checked before the table (requireProfile): its own error code.
    profile: raw('profile', (value) => value as string),
    upstream: raw('upstream', (value, problem) => (typeof value === 'string' && value !== '' ? value : problem('must be a non-empty string'))),
    name: routeName('name'),
    ownerPid: count('ownerPid'),
    port: raw('port', (value, problem) => {
      if (value === undefined) return undefined
      return typeof value === 'number' && Number.isInteger(value) && value >= 1024 && value <= 65535 ? value : problem('must be an integer from 1024 to 65535')
    }),
    // At least 128 bits, as hex: a key given back by its owner, never a weak one.
    key: raw('key', (value, problem) => {
      if (value === undefined) return undefined
      return typeof value === 'string' && /^[0-9a-f]{32,128}$/.test(value) ? value : problem('must be 32 to 128 lowercase hex digits')
    }),
  },
  { closed: true },
)

export function parseRelayOpenRequest(body: Record<string, unknown>): RelayOpenRequest {
  requireProfile(body)
  return compact(readBody(relayOpenFields, body)) as RelayOpenRequest
}

const relayCloseFields = table({ name: routeName('name') }, { closed: true })

export function parseRelayCloseRequest(body: Record<string, unknown>): RelayCloseRequest {
  const { name } = readBody(relayCloseFields, body)
  if (name === undefined) throw protocolError('request.name: must be a route name')
  return { name }
}


// ---- GET /v1/health, GET /v1/status, GET /v1/profiles, POST /v1/shutdown ----------------

/** The running daemon's facts. */
export interface DaemonInfo {
  pid: number
  version: string
  startedAt: string
  socket: string
  configPath: string
  /** The login the daemon started from (platform.ts loginSession); absent from daemons before it was added. */
  session?: 'ssh' | 'local'
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
  /**
   * Set when the caller lookup cannot read process ancestry (a `ps` slower than its
   * timeout): agents' 401 re-runs are then not recognised by process name.
   */
  callers?: { ancestry: string; problem: string }
  profiles: (ProfileStatus & { description?: string })[]
}

/** `GET /v1/status`; without a daemon, `ccred status` builds the same shape with `running: false`. */
export interface StatusResponse extends ServiceStatus {
  daemon: { running: boolean; pid?: number; version?: string; socket: string; uptimeMs?: number; startedAt?: string; configPath?: string; session?: 'ssh' | 'local' }
}

export interface ShutdownResponse {
  stopping: true
}

// ---- field readers -------------------------------------------------------------------

function protocolError(message: string): CcredError {
  return new CcredError('ERR_PROTOCOL', message, { hint: API_HINT })
}

function requireString(body: Record<string, unknown>, key: string): string {
  const value = body[key]
  if (typeof value !== 'string' || value === '') throw protocolError(`"${key}" must be a non-empty string`)
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
