import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startDaemonInBackground } from '../client/autostart.js'
import { DaemonNotRunning, requestDaemon, unwrap } from '../client/transport.js'
import { stateDir } from '../config/paths.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import { ROUTES, type RelayCloseResponse, type RelayListResponse, type RelayOpenRequest, type RelayOpenResponse } from '../protocol.js'
import { sanitizeLine, stringifyJsonSafely } from '../text/sanitize.js'
import { ioPlatform, usageError, type Io } from './io.js'

/** The clients `exec --relay --for` knows: which variables carry the base URL and the key. */
export const RELAY_CLIENTS = {
  // Gemini CLI (@google/genai): sends the key as x-goog-api-key.
  gemini: { baseUrl: 'GOOGLE_GEMINI_BASE_URL', key: 'GEMINI_API_KEY' },
  // OpenAI SDKs and OpenCode's openai-compatible provider ({env:OPENAI_BASE_URL} / {env:OPENAI_API_KEY} in its config).
  openai: { baseUrl: 'OPENAI_BASE_URL', key: 'OPENAI_API_KEY' },
  opencode: { baseUrl: 'OPENAI_BASE_URL', key: 'OPENAI_API_KEY' },
  // Claude Code: ANTHROPIC_AUTH_TOKEN is sent as Authorization: Bearer.
  anthropic: { baseUrl: 'ANTHROPIC_BASE_URL', key: 'ANTHROPIC_AUTH_TOKEN' },
} as const

export type RelayClient = keyof typeof RELAY_CLIENTS

export function relayClient(name: string | undefined): RelayClient {
  const client = name ?? 'anthropic'
  if (!Object.hasOwn(RELAY_CLIENTS, client)) throw usageError(`--for must be one of ${Object.keys(RELAY_CLIENTS).join(', ')}`, 'e.g. ccred exec --relay corp --for gemini -- gemini')
  return client as RelayClient
}

/** The daemon's answer to a relay call; the relay lives in the daemon, so one is started when none runs. */
async function askDaemon<T>(io: Io, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  try {
    try {
      return unwrap<T>(await requestDaemon(io.env, method, path, body))
    } catch (error) {
      if (!(error instanceof DaemonNotRunning)) throw error
    }
    const started = await startDaemonInBackground(io.env)
    if (!started.ok) throw started.error
    return unwrap<T>(await requestDaemon(io.env, method, path, body))
  } catch (error) {
    throw olderDaemon(error) ?? error
  }
}

export function openRelayRoute(io: Io, request: RelayOpenRequest): Promise<RelayOpenResponse> {
  return askDaemon<RelayOpenResponse>(io, 'POST', ROUTES.relayOpen, request)
}

export async function closeRelayRoute(io: Io, name: string): Promise<boolean> {
  try {
    return unwrap<RelayCloseResponse>(await requestDaemon(io.env, 'POST', ROUTES.relayClose, { name })).closed
  } catch (error) {
    if (error instanceof DaemonNotRunning) return false
    throw error
  }
}

/** Where a kept route's base URL and key are written for apps to read: the private state directory, 0600. */
export function relayFiles(io: Io, name: string): { dir: string; json: string; key: string } {
  const dir = join(stateDir(io.env, ioPlatform(io)), 'relay')
  return { dir, json: join(dir, `${name}.json`), key: join(dir, `${name}.key`) }
}

interface KeptRoute {
  name: string
  profile: string
  upstream: string
  baseUrl: string
  port: number
  key: string
}

function readKept(path: string): KeptRoute | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as KeptRoute
  } catch {
    return undefined
  }
}

/**
 * `ccred relay start <profile> --upstream <url> [--name N] [--port P]`: a kept route
 * for apps configured once. Started again (after a daemon restart) it gets the
 * same port and key back from its file, so the app's config stays right.
 */
export async function runRelayStart(profile: string, options: { upstream?: string; name?: string; port?: string }, io: Io): Promise<number> {
  if (options.upstream === undefined) throw usageError('--upstream is required', 'e.g. ccred relay start corp --upstream https://litellm.example.com')
  const name = options.name ?? profile
  const files = relayFiles(io, name)
  const before = readKept(files.json)
  const sameRoute = before !== undefined && before.profile === profile && before.upstream === new URL(options.upstream).href
  const port = options.port === undefined ? (sameRoute ? before.port : undefined) : Number(options.port)
  if (port !== undefined && !Number.isInteger(port)) throw usageError('--port must be a number', 'e.g. --port 18555')
  const opened = await openRelayRoute(io, {
    profile, upstream: options.upstream, name,
    ...(port === undefined ? {} : { port }),
    ...(sameRoute ? { key: before.key } : {}),
  })
  const kept: KeptRoute = { name, profile, upstream: opened.route.upstream, baseUrl: opened.route.baseUrl, port: Number(new URL(opened.route.baseUrl).port), key: opened.key }
  mkdirSync(files.dir, { recursive: true, mode: 0o700 })
  writeFileSync(files.json, `${JSON.stringify(kept, null, 2)}\n`, { mode: 0o600 })
  writeFileSync(files.key, `${opened.key}\n`, { mode: 0o600 })
  io.stdout.write(`${sanitizeLine(opened.route.baseUrl)}\n`)
  io.stderr.write(`${sanitizeLine(`ccred relay: route ${name} → ${opened.route.upstream} at ${opened.route.baseUrl}; its key is in ${files.key} (0600), the whole route in ${files.json}`)}\n`)
  return EXIT_CODES.OK
}

export async function runRelayStop(name: string, io: Io): Promise<number> {
  const closed = await closeRelayRoute(io, name)
  const files = relayFiles(io, name)
  rmSync(files.json, { force: true })
  rmSync(files.key, { force: true })
  io.stderr.write(`ccred relay: ${closed ? `route ${name} stopped` : `no open route ${name}`}\n`)
  return EXIT_CODES.OK
}

export async function runRelayList(options: { json?: boolean }, io: Io): Promise<number> {
  let routes: RelayListResponse['routes'] = []
  try {
    routes = unwrap<RelayListResponse>(await requestDaemon(io.env, 'GET', ROUTES.relayList)).routes
  } catch (error) {
    if (!(error instanceof DaemonNotRunning)) throw error
  }
  if (options.json) {
    io.stdout.write(`${stringifyJsonSafely({ routes })}\n`)
    return EXIT_CODES.OK
  }
  if (routes.length === 0) io.stdout.write('no relay routes\n')
  for (const route of routes) {
    io.stdout.write(`${sanitizeLine(`${route.name}  ${route.profile}  ${route.baseUrl} → ${route.upstream}  ${route.requests} requests${route.ownerPid === undefined ? '' : `  (exec pid ${route.ownerPid})`}`)}\n`)
  }
  return EXIT_CODES.OK
}

/** A route the daemon could not open because it is a ccred without the relay. */
function olderDaemon(error: unknown): CcredError | undefined {
  return error instanceof CcredError && error.code === 'ERR_PROTOCOL' && /no such endpoint/.test(error.message)
    ? new CcredError('ERR_DAEMON', 'the running daemon is an older ccred without the relay', { hint: 'run: ccred daemon stop', cause: error })
    : undefined
}

/**
 * `ccred exec --relay <profile> [--for client] [--upstream url]`: a route for one
 * child, and the variables that point the client at it. The upstream defaults to
 * the base URL the client's variable already names (the relay then sits in front of it).
 */
export async function openChildRoute(profile: string, options: { for?: string; upstream?: string }, io: Io): Promise<{ variables: Record<string, string>; close(): Promise<void> }> {
  const client = relayClient(options.for)
  const names = RELAY_CLIENTS[client]
  const upstream = options.upstream ?? io.env[names.baseUrl]
  if (upstream === undefined || upstream === '') {
    throw usageError(`no upstream for the relay: give --upstream or set ${names.baseUrl}`, `e.g. ccred exec --relay ${profile} --for ${client} --upstream https://gateway.example.com -- <command>`)
  }
  const opened = await openRelayRoute(io, { profile, upstream, ownerPid: process.pid })
  return {
    variables: { [names.baseUrl]: opened.route.baseUrl, [names.key]: opened.key, CCRED_RELAY_URL: opened.route.baseUrl, CCRED_RELAY_KEY: opened.key },
    close: async () => { await closeRelayRoute(io, opened.route.name).catch(() => false) },
  }
}
