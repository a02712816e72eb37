// A plain OAuth 2.0 authorization server that offers only the device code grant (RFC 8628)
// and refresh tokens, the shape of the Claude apps gateway: RFC 8414 metadata, in the
// path-insertion form for an issuer with a path (`/.well-known/oauth-authorization-server/<path>`),
// 404 on OpenID Connect discovery, no authorization, revocation or userinfo endpoint, no client
// authentication, no id_token. The test approves a user code by calling `approve`.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { listenOnLoopback } from './listen.js'

export interface DeviceOnlyServer {
  /** http://127.0.0.1:<port>/<issuerPath> */
  issuer: string
  /** Every request as `METHOD path`, to see which discovery documents were asked for. */
  requests: string[]
  /** Token endpoint grant types in order. */
  grants: string[]
  /** Marks a user code as approved by the user; the next poll gets tokens. */
  approve(userCode: string): void
  close(): Promise<void>
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'

export async function startDeviceOnlyServer(issuerPath = 'tenant-a'): Promise<DeviceOnlyServer> {
  const requests: string[] = []
  const grants: string[] = []
  const pending = new Map<string, { userCode: string; approved: boolean }>()
  const refreshTokens = new Set<string>()
  let issuer = ''
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    res.end(JSON.stringify(body))
  }
  const tokens = (res: http.ServerResponse) => {
    const refreshToken = `rt-${randomBytes(12).toString('hex')}`
    refreshTokens.add(refreshToken)
    json(res, 200, { access_token: `at-${randomBytes(12).toString('hex')}`, token_type: 'Bearer', expires_in: 3600, refresh_token: refreshToken })
  }
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    requests.push(`${req.method} ${path}`)
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8') })
    req.on('end', () => {
      if (req.method === 'GET' && path === `/.well-known/oauth-authorization-server/${issuerPath}`) {
        json(res, 200, {
          issuer,
          device_authorization_endpoint: `${issuer}/oauth/device_authorization`,
          token_endpoint: `${issuer}/oauth/token`,
          grant_types_supported: [DEVICE_GRANT, 'refresh_token'],
          response_types_supported: [],
          token_endpoint_auth_methods_supported: ['none'],
        })
        return
      }
      const form = new URLSearchParams(body)
      if (req.method === 'POST' && path === `/${issuerPath}/oauth/device_authorization`) {
        const deviceCode = randomBytes(16).toString('hex')
        const userCode = randomBytes(4).toString('hex').toUpperCase()
        pending.set(deviceCode, { userCode, approved: false })
        json(res, 200, { device_code: deviceCode, user_code: userCode, verification_uri: `${issuer}/device`, expires_in: 600, interval: 1 })
        return
      }
      if (req.method === 'POST' && path === `/${issuerPath}/oauth/token`) {
        const grant = form.get('grant_type') ?? '?'
        grants.push(grant)
        if (grant === DEVICE_GRANT) {
          const device = pending.get(form.get('device_code') ?? '')
          if (device === undefined) return json(res, 400, { error: 'invalid_grant' })
          if (!device.approved) return json(res, 400, { error: 'authorization_pending' })
          pending.delete(form.get('device_code')!)
          return tokens(res)
        }
        if (grant === 'refresh_token') {
          const presented = form.get('refresh_token') ?? ''
          if (!refreshTokens.delete(presented)) return json(res, 400, { error: 'invalid_grant' })
          return tokens(res)
        }
        return json(res, 400, { error: 'unsupported_grant_type' })
      }
      json(res, 404, { error: 'not_found' })
    })
  })
  const port = await listenOnLoopback(server)
  issuer = `http://127.0.0.1:${port}/${issuerPath}`
  return {
    issuer,
    requests,
    grants,
    approve(userCode) {
      for (const device of pending.values()) if (device.userCode === userCode) device.approved = true
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
