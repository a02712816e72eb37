// A loopback stand-in for the Compute Engine metadata server, reached by the real
// google-auth-library through GCE_METADATA_HOST (its documented override).
// https://cloud.google.com/compute/docs/metadata/querying-metadata : every request must carry
// `Metadata-Flavor: Google` (else 403) and every answer carries it back; a request carrying
// `X-Forwarded-For` is refused (the server's guard against being reached through a proxy).
import http from 'node:http'
import { listenOnLoopback } from './listen.js'
import type { GoogleTokens } from './gcp-oauth-server.js'

export interface MetadataRequest {
  path: string
  query: Record<string, string>
  status: number
}

export interface MetadataServer {
  /** host:port, the value for GCE_METADATA_HOST. */
  host: string
  requests: MetadataRequest[]
  close(): Promise<void>
}

export async function startMetadataServer(options: { tokens: GoogleTokens; email: string }): Promise<MetadataServer> {
  const requests: MetadataRequest[] = []
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://metadata')
    const record: MetadataRequest = { path: url.pathname, query: Object.fromEntries(url.searchParams), status: 200 }
    requests.push(record)
    const send = (status: number, body: string, type = 'application/text') => {
      record.status = status
      res.writeHead(status, { 'metadata-flavor': 'Google', 'content-type': type, 'content-length': String(Buffer.byteLength(body)) })
      res.end(body)
    }
    if (req.headers['metadata-flavor'] !== 'Google') return send(403, 'Missing Metadata-Flavor:Google header.')
    if (req.headers['x-forwarded-for'] !== undefined) return send(403, 'Request with X-Forwarded-For header is not allowed.')
    const base = '/computeMetadata/v1/instance'
    const account = `${base}/service-accounts/default`
    switch (url.pathname) {
      // The library's "is there a metadata server?" probe.
      case base:
      case `${base}/`:
        return send(200, JSON.stringify({ id: 1234567890, zone: 'projects/1/zones/europe-west1-b' }), 'application/json')
      case `${account}/email`:
        return send(200, options.email)
      // https://cloud.google.com/compute/docs/access/authenticate-workloads#applications
      case `${account}/token`: {
        const scopes = url.searchParams.get('scopes')?.split(',')
        const issued = options.tokens.accessToken(options.email, scopes)
        return send(200, JSON.stringify({ access_token: issued.token, expires_in: issued.expiresIn, token_type: 'Bearer' }), 'application/json')
      }
      // https://cloud.google.com/compute/docs/instances/verifying-instance-identity#request_signature
      case `${account}/identity`: {
        const audience = url.searchParams.get('audience')
        if (audience === null || audience === '') return send(400, 'non-empty audience parameter required')
        return send(200, options.tokens.idToken(options.email, audience))
      }
      default:
        return send(404, 'Not Found')
    }
  })
  const port = await listenOnLoopback(server)
  return {
    host: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}
