// OIDC discovery failing: the issuer's /.well-known/openid-configuration cannot be had (nobody
// listens, a 500, a 404, a document for another issuer). Each is one coded error that names the
// issuer and the cause, in-process on the real service, and never leaks the client secret.
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { CredentialService } from '../../src/service/service.js'
import { FakeClock } from '../../src/clock.js'
import { CcredError } from '../../src/errors.js'
import { MemoryStore } from '../../src/store/memory.js'
import { listenOnLoopback, refusedLoopbackPort } from '../helpers/listen.js'
import { oidcProfileToml, SECRET_CLIENT } from '../helpers/oidc-provider.js'
import { Sandbox, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'

const CLIENT_SECRET = 'discovery-test-client-secret-canary'
let server: http.Server
let base = ''
const requests: string[] = []
const sandboxes = sandboxesCleanedUpAfterAll()
const services: CredentialService[] = []

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '')
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) })
      res.end(text)
    }
    if (req.url === '/broken/.well-known/openid-configuration') return send(500, { error: 'server_error' })
    if (req.url === '/other/.well-known/openid-configuration') {
      return send(200, { issuer: 'https://login.somewhere-else.example', token_endpoint: `${base}/other/token`, jwks_uri: `${base}/other/jwks`, authorization_endpoint: `${base}/other/auth`, response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] })
    }
    send(404, { error: 'not_found' })
  })
  base = `http://127.0.0.1:${await listenOnLoopback(server)}`
})
after(async () => {
  await Promise.all(services.map((s) => s.close()))
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

async function failure(issuer: string): Promise<CcredError> {
  const box = new Sandbox({ CI_OIDC_SECRET: CLIENT_SECRET })
  sandboxes.push(box)
  box.writeConfig(oidcProfileToml(issuer, 'ci', SECRET_CLIENT))
  const service = new CredentialService({ env: box.env, clock: new FakeClock(Date.now()), configPath: box.configPath, explicitConfig: true, store: new MemoryStore() })
  services.push(service)
  try {
    await service.get({ profile: 'ci', callerTtlMs: 300_000 })
  } catch (error) {
    assert.ok(error instanceof CcredError, String(error))
    assert.ok(!error.message.includes(CLIENT_SECRET) && !(error.hint ?? '').includes(CLIENT_SECRET), 'the client secret stays out')
    console.log(`${issuer}: ${error.code}: ${error.message} — ${error.hint}`)
    return error
  }
  assert.fail(`a get against ${issuer} succeeded`)
}

describe('oidc: discovery failures', () => {
  it('nobody listens at the issuer', async () => {
    const issuer = `http://127.0.0.1:${await refusedLoopbackPort()}/realm`
    const error = await failure(issuer)
    assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal(error.message, `profile ci: oidc: discovery of ${issuer} failed: fetch failed: connect ECONNREFUSED 127.0.0.1:1023; RFC 8414 metadata: fetch failed: connect ECONNREFUSED 127.0.0.1:1023`)
    assert.equal(error.hint, `check issuer in [profiles.ci.oidc] (ccred reads ${issuer}/.well-known/openid-configuration, then the RFC 8414 /.well-known/oauth-authorization-server) and the network`)
  })

  it('the discovery document answers 500', async () => {
    const error = await failure(`${base}/broken`)
    assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal(error.message, `profile ci: oidc: discovery of ${base}/broken failed: unexpected HTTP response status code (HTTP 500); RFC 8414 metadata: unexpected HTTP response status code (HTTP 404)`)
    assert.equal(error.hint, `check issuer in [profiles.ci.oidc] (ccred reads ${base}/broken/.well-known/openid-configuration, then the RFC 8414 /.well-known/oauth-authorization-server) and the network`)
    assert.ok(requests.includes('/broken/.well-known/openid-configuration'), 'the documented discovery path was asked')
  })

  it('there is no discovery document (404)', async () => {
    const error = await failure(`${base}/nothing`)
    assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal(error.message, `profile ci: oidc: discovery of ${base}/nothing failed: unexpected HTTP response status code (HTTP 404); RFC 8414 metadata: unexpected HTTP response status code (HTTP 404)`)
    assert.ok(requests.includes('/nothing/.well-known/openid-configuration'))
  })

  it('the document is for another issuer', async () => {
    const error = await failure(`${base}/other`)
    assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal(error.message, `profile ci: oidc: discovery of ${base}/other failed: discovered metadata issuer does not match the expected issuer; RFC 8414 metadata: unexpected HTTP response status code (HTTP 404)`)
    assert.ok(!requests.some((url) => url.startsWith('/other/token')), 'no token request to an issuer that is not the configured one')
  })
})
