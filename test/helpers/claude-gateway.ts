// The real Claude apps gateway (`claude gateway`, shipped in the Claude Code binary) on
// loopback, with what it needs: a private PostgreSQL cluster, an OpenID Provider
// (oidc-provider) that knows the gateway as a confidential web client, and an upstream
// (the Anthropic Messages stub of ./gateway.ts). The gateway can be restarted with a new
// jwt_secret, which invalidates every token it minted before.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { claudeBin } from './claude.js'
import { listenOnLoopback } from './listen.js'
import { freeLoopbackPort, type PostgresCluster } from './postgres.js'

export const GATEWAY_CLIENT_ID = 'claude-gateway'
const GATEWAY_READY_TIMEOUT_MS = 30_000
const GATEWAY_STOP_TIMEOUT_MS = 10_000

/** Gateways still running: killed if the test process exits before stopping them (a timeout, a crash). */
const runningGateways = new Set<ChildProcess>()
process.once('exit', () => { for (const child of runningGateways) child.kill('SIGKILL') })

export interface GatewayIdp {
  issuer: string
  clientSecret: string
  /** Token endpoint requests, by grant_type (the gateway refreshing with the IdP's refresh token). */
  grants: string[]
  close(): Promise<void>
}

interface ProviderClass {
  new (issuer: string, configuration: Record<string, unknown>): { callback(): http.RequestListener }
}

/**
 * oidc-provider with one confidential client, the gateway, redirecting to
 * `<gatewayUrl>/oauth/callback`; users sign in at the dev login page with any password
 * and get `email` = their login. A refresh token needs offline_access with prompt=consent.
 */
export async function startGatewayIdp(gatewayUrl: string): Promise<GatewayIdp> {
  const specifier = 'oidc-provider'
  const { default: Provider } = (await import(specifier)) as { default: ProviderClass }
  const { generateKeyPairSync } = await import('node:crypto')
  const { exportJWK } = await import('jose')
  // The gateway expects RS256 ID tokens (the default of OpenID Connect).
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const signingJwk = { ...(await exportJWK(signing.privateKey)), kid: 'gw-idp', alg: 'RS256', use: 'sig' }
  const clientSecret = randomBytes(24).toString('base64url')
  const grants: string[] = []
  let handler: http.RequestListener = (_req, res) => { res.statusCode = 503; res.end() }
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/token')) {
      let body = ''
      req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8') })
      req.on('end', () => { grants.push(new URLSearchParams(body).get('grant_type') ?? '?') })
    }
    handler(req, res)
  })
  const port = await listenOnLoopback(server)
  const issuer = `http://127.0.0.1:${port}`
  const provider = new Provider(issuer, {
    clients: [{
      client_id: GATEWAY_CLIENT_ID,
      client_secret: clientSecret,
      redirect_uris: [`${gatewayUrl}/oauth/callback`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid email profile offline_access',
      id_token_signed_response_alg: 'RS256',
    }],
    jwks: { keys: [signingJwk] },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    conformIdTokenClaims: false,
    rotateRefreshToken: true,
    ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600 },
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, email: id, email_verified: true, name: id.split('@')[0] }) }),
    features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
  })
  handler = provider.callback()
  return {
    issuer,
    clientSecret,
    grants,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}

export interface ClaudeGateway {
  url: string
  /** The gateway's output so far (JSON lines and `[gateway]` lines), for failure messages and checks. */
  log(): string
  /** Stops the gateway and starts it again on the same port with a new jwt_secret. */
  rotateSecret(): Promise<void>
  stop(): Promise<void>
}

export interface ClaudeGatewayInput {
  port: number
  idp: GatewayIdp
  postgres: PostgresCluster
  upstreamUrl: string
  upstreamKey: string
}

/** The gateway config: secrets come from the environment (`${VAR}`), never from the file. */
function gatewayYaml(input: ClaudeGatewayInput): string {
  const url = `http://127.0.0.1:${input.port}`
  return [
    `listen: { host: 127.0.0.1, port: ${input.port}, public_url: "${url}" }`,
    `oidc:`,
    `  issuer: "${input.idp.issuer}"`,
    `  client_id: ${GATEWAY_CLIENT_ID}`,
    '  client_secret: "${GW_OIDC_CLIENT_SECRET}"',
    `  extra_auth_params: { prompt: consent }`,
    'session: { jwt_secret: "${GW_JWT_SECRET}" }',
    'store: { postgres_url: "${GW_POSTGRES_URL}" }',
    `upstreams:`,
    `  - provider: anthropic`,
    `    base_url: "${input.upstreamUrl}"`,
    '    auth: { api_key: "${GW_UPSTREAM_KEY}" }',
    '',
  ].join('\n')
}

export async function startClaudeGateway(input: ClaudeGatewayInput): Promise<ClaudeGateway> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccred-gw-'))
  const configPath = path.join(dir, 'gateway.yaml')
  writeFileSync(configPath, gatewayYaml(input), { mode: 0o600 })
  const url = `http://127.0.0.1:${input.port}`
  let output = ''
  let child: ChildProcess | undefined

  const start = async (): Promise<void> => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      CLAUDE_GATEWAY_ALLOW_LOOPBACK: '1',
      GW_OIDC_CLIENT_SECRET: input.idp.clientSecret,
      GW_JWT_SECRET: randomBytes(32).toString('base64url'),
      GW_POSTGRES_URL: input.postgres.url,
      GW_UPSTREAM_KEY: input.upstreamKey,
      DISABLE_TELEMETRY: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    }
    const started = spawn(claudeBin(), ['gateway', '--config', configPath], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    runningGateways.add(started)
    started.once('exit', () => runningGateways.delete(started))
    started.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
    started.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
    const deadline = Date.now() + GATEWAY_READY_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (started.exitCode !== null || started.signalCode !== null) throw new Error(`claude gateway exited (${started.exitCode ?? started.signalCode}): ${output.slice(-3000)}`)
      try {
        const response = await fetch(`${url}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(2_000) })
        await response.arrayBuffer()
        if (response.status === 200) return
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
    throw new Error(`claude gateway did not answer within ${GATEWAY_READY_TIMEOUT_MS} ms: ${output.slice(-3000)}`)
  }

  const stopChild = async (): Promise<void> => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()))
    running.kill('SIGTERM')
    const timer = setTimeout(() => running.kill('SIGKILL'), GATEWAY_STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }

  try {
    await start()
  } catch (error) {
    await stopChild()
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return {
    url,
    log: () => output,
    async rotateSecret() {
      await stopChild()
      await start()
    },
    async stop() {
      await stopChild()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Reserves a loopback port for the gateway (the IdP's redirect URI must name it before the gateway starts). */
export { freeLoopbackPort }
