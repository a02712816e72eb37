import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { CredentialService } from '../broker/service.js'
import { HEADERS, type Header } from '../config/load.js'
import { CcredError, toCcredError } from '../errors.js'

export const PROTOCOL_VERSION = 1
const MAX_BODY_BYTES = 64 * 1024

export interface DaemonInfo {
  pid: number
  version: string
  startedAt: string
  socket: string
  configPath: string
}

export interface ServerHooks {
  info: DaemonInfo
  onRequest(): void
  onShutdown(): void
}

const STATUS_BY_CODE: Partial<Record<CcredError['code'], number>> = {
  ERR_USAGE: 400,
  ERR_PROTOCOL: 400,
  ERR_PROFILE_UNKNOWN: 404,
  ERR_CONFIG: 422,
  ERR_LOGIN_REQUIRED: 401,
  ERR_SOURCE_DENIED: 403,
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

function sendError(res: ServerResponse, error: unknown): void {
  const failure = toCcredError(error)
  send(res, STATUS_BY_CODE[failure.code] ?? 500, { error: failure.toJSON() })
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw new CcredError('ERR_PROTOCOL', 'request body larger than 64 KiB', { hint: 'this is not a ccred client' })
    chunks.push(chunk)
  }
  if (size === 0) return {}
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>
  } catch { /* reported below */ }
  throw new CcredError('ERR_PROTOCOL', 'request body is not a JSON object', { hint: 'send JSON, e.g. {"profile": "demo"}' })
}

function requireString(body: Record<string, unknown>, key: string): string {
  const value = body[key]
  if (typeof value !== 'string' || value === '') throw new CcredError('ERR_PROTOCOL', `"${key}" must be a non-empty string`, { hint: 'see the README section on the daemon API' })
  return value
}

function optionalNumber(body: Record<string, unknown>, key: string): number | undefined {
  const value = body[key]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new CcredError('ERR_PROTOCOL', `"${key}" must be a non-negative number`, { hint: 'see the README section on the daemon API' })
  return value
}

function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const value = body[key]
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw new CcredError('ERR_PROTOCOL', `"${key}" must be true or false`, { hint: 'see the README section on the daemon API' })
  return value
}

/**
 * HTTP/1.1 on the Unix socket, JSON bodies, versioned paths, so it can be
 * inspected with `curl --unix-socket`. Errors come back as {"error": {code, message, hint}}.
 */
export function createDaemonServer(service: CredentialService, hooks: ServerHooks): Server {
  const server = createServer((req, res) => {
    hooks.onRequest()
    handle(req, res).catch((error) => sendError(res, error))
  })
  server.keepAliveTimeout = 5_000

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    const route = `${req.method} ${path}`
    switch (route) {
      case 'GET /v1/health':
        return send(res, 200, { ok: true, protocol: PROTOCOL_VERSION, ...hooks.info })
      case 'POST /v1/credential': {
        const body = await readJson(req)
        const profile = requireString(body, 'profile')
        const expectedConfig = body.configPath
        if (typeof expectedConfig === 'string' && expectedConfig !== hooks.info.configPath) {
          throw new CcredError('ERR_DAEMON', `the running daemon reads ${hooks.info.configPath}, but this command uses ${expectedConfig}`, {
            hint: 'run: ccred daemon stop   (or give each config its own CCRED_RUNTIME_DIR)',
          })
        }
        const header = body.header
        if (header !== undefined && !(HEADERS as readonly unknown[]).includes(header)) {
          throw new CcredError('ERR_PROTOCOL', `"header" must be one of ${HEADERS.join(', ')}`, { hint: 'see ccred get --help' })
        }
        const clientPid = optionalNumber(body, 'clientPid')
        const clientParentPid = optionalNumber(body, 'clientParentPid')
        const clientStartedAtMs = optionalNumber(body, 'clientStartedAtMs')
        const rejected = optionalBoolean(body, 'rejected')
        const issued = await service.get({
          profile,
          callerTtlMs: optionalNumber(body, 'callerTtlMs') ?? 300_000,
          forceRefresh: body.refresh === true,
          ...(rejected === undefined ? {} : { rejected }),
          interactive: body.interactive === true,
          ...(clientPid === undefined ? {} : { clientPid }),
          ...(clientParentPid === undefined ? {} : { clientParentPid }),
          ...(clientStartedAtMs === undefined ? {} : { clientStartedAtMs }),
          ...(header === undefined ? {} : { header: header as Header }),
        })
        return send(res, 200, issued)
      }
      case 'GET /v1/status':
        return send(res, 200, { daemon: { running: true, ...hooks.info, uptimeMs: Date.now() - Date.parse(hooks.info.startedAt) }, ...(await service.status()) })
      case 'GET /v1/profiles':
        return send(res, 200, { profiles: await service.listProfiles() })
      case 'POST /v1/purge': {
        const body = await readJson(req)
        return send(res, 200, { purged: service.purge(requireString(body, 'profile')) })
      }
      case 'POST /v1/shutdown':
        send(res, 200, { stopping: true })
        res.on('finish', () => hooks.onShutdown())
        return
      default:
        throw new CcredError('ERR_PROTOCOL', `no such endpoint: ${route}`, { hint: 'the daemon may be a different ccred version; run: ccred daemon stop' })
    }
  }

  return server
}
