// CcredError's contract: the isCcredError guard, one exit-code table (and docs/troubleshooting.md and
// --help that describe it), cause and detail kept through context, Vault's HTTP status and an
// identity provider's OAuth error read from detail, never from the message.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { CredentialService } from '../../src/service/service.js'
import { FakeClock } from '../../src/clock.js'
import { main } from '../../src/cli/main.js'
import { CcredError, ERROR_EXIT_CODES, EXIT_CODES, isCcredError, withContext, type ErrorCode } from '../../src/errors.js'
import { MemoryStore } from '../../src/store/memory.js'
import { VaultHttpError } from '../../src/vault/client.js'
import { repoRoot } from '../helpers/claude.js'
import { rejects, world } from '../helpers/vault-world.js'
import { loopbackTcpSkip } from '../helpers/listen.js'

describe('isCcredError', () => {
  it('narrows to CcredError, and to one code when asked', () => {
    const error: unknown = new CcredError('ERR_LOGIN_REQUIRED', 'profile p: not signed in', { hint: 'run: ccred login p' })
    assert.equal(isCcredError(error), true)
    assert.equal(isCcredError(error, 'ERR_LOGIN_REQUIRED'), true)
    assert.equal(isCcredError(error, 'ERR_CONFIG'), false)
    if (isCcredError(error, 'ERR_LOGIN_REQUIRED')) {
      const code: 'ERR_LOGIN_REQUIRED' = error.code
      assert.equal(code, 'ERR_LOGIN_REQUIRED')
    }
  })

  it('is false for look-alikes: an object or Error with a ccred-like code is not a ccred error', () => {
    for (const lookAlike of [{ code: 'ERR_LOGIN_REQUIRED', message: 'x' }, Object.assign(new Error('x'), { code: 'ERR_LOGIN_REQUIRED' }), 'ERR_LOGIN_REQUIRED', null, undefined]) {
      assert.equal(isCcredError(lookAlike), false)
      assert.equal(isCcredError(lookAlike, 'ERR_LOGIN_REQUIRED'), false)
    }
  })
})

describe('cause and detail', () => {
  it('withContext keeps code, hint, detail, and the wrapped error as cause', () => {
    const original = new VaultHttpError(503, ['Vault is sealed'])
    const base = new CcredError('ERR_SOURCE_UNAVAILABLE', 'vault: read x: Vault is sealed (503)', { hint: 'unseal', cause: original, detail: { httpStatus: 503 } })
    const wrapped = withContext(base, 'profile p')
    assert.equal(wrapped.code, 'ERR_SOURCE_UNAVAILABLE')
    assert.equal(wrapped.hint, 'unseal')
    assert.deepEqual(wrapped.detail, { httpStatus: 503 })
    assert.equal(wrapped.cause, base)
    assert.equal(base.cause, original)
    assert.deepEqual(new CcredError('ERR_CONFIG', 'x').detail, {})
  })

  it('detail never travels in the JSON the daemon sends (the wire shape is unchanged)', () => {
    const json = new CcredError('ERR_SOURCE_DENIED', 'denied', { hint: 'h', detail: { httpStatus: 403, oauthError: 'access_denied' } }).toJSON()
    assert.deepEqual(json, { code: 'ERR_SOURCE_DENIED', message: 'denied', hint: 'h' })
  })
})

describe('which failures are worth retrying', () => {
  it('an unavailable upstream, keychain or daemon is; a config, login, denial, bad output or usage error is not', () => {
    const retryable: ErrorCode[] = ['ERR_SOURCE_UNAVAILABLE', 'ERR_KEYCHAIN_UNAVAILABLE', 'ERR_DAEMON', 'ERR_INTERNAL']
    for (const code of Object.keys(ERROR_EXIT_CODES) as ErrorCode[]) {
      assert.equal(new CcredError(code, 'x').retryable, retryable.includes(code), code)
      assert.equal(withContext(new CcredError(code, 'x'), 'profile p').retryable, retryable.includes(code), `${code} through withContext`)
    }
  })
})

describe('exit codes: one table', () => {
  it('every entry has an exit code of its own; the error codes are a part of it', () => {
    const values = Object.values(EXIT_CODES)
    assert.equal(new Set(values).size, values.length, `two names share an exit code: ${JSON.stringify(EXIT_CODES)}`)
    for (const value of values) assert.ok(Number.isInteger(value) && value >= 0 && value <= 255)
    assert.equal(EXIT_CODES.OK, 0)
    assert.equal(EXIT_CODES.DOCTOR_FOUND_PROBLEMS, 13)
    for (const [code, exitCode] of Object.entries(ERROR_EXIT_CODES)) {
      assert.equal(EXIT_CODES[code as ErrorCode], exitCode)
      assert.equal(new CcredError(code as ErrorCode, 'x').exitCode, exitCode)
    }
    assert.ok(!('OK' in ERROR_EXIT_CODES) && !('DOCTOR_FOUND_PROBLEMS' in ERROR_EXIT_CODES), 'only errors are error codes')
  })

  it('the exit-code table of docs/troubleshooting.md lists every exit code with its error code, and nothing else', () => {
    const page = readFileSync(join(repoRoot(), 'docs', 'troubleshooting.md'), 'utf8')
    const start = page.indexOf('\n## Exit codes\n')
    assert.notEqual(start, -1, 'docs/troubleshooting.md has an "Exit codes" section')
    const end = page.indexOf('\n#', start + 1)
    const section = page.slice(start, end === -1 ? undefined : end)
    const rows = [...section.matchAll(/^\| (\d+) \| ?(?:`(ERR_\w+)` )?\|/gm)].map((m) => [Number(m[1]), m[2]] as const)
    assert.deepEqual(rows.map(([exitCode]) => exitCode).sort((a, b) => a - b), Object.values(EXIT_CODES).sort((a, b) => a - b))
    for (const [exitCode, code] of rows) {
      if (code !== undefined) assert.equal(ERROR_EXIT_CODES[code as ErrorCode], exitCode, `docs/troubleshooting.md: ${code}`)
      else assert.ok(!Object.values(ERROR_EXIT_CODES).includes(exitCode as never), `docs/troubleshooting.md: exit ${exitCode} lacks its error code`)
    }
  })

  it('ccred --help lists every exit code', async () => {
    let stdout = ''
    const exitCode = await main(['node', 'ccred', '--help'], { env: {}, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true } })
    assert.equal(exitCode, EXIT_CODES.OK)
    const help = stdout.slice(stdout.indexOf('Exit codes:'))
    for (const value of Object.values(EXIT_CODES)) assert.match(help, new RegExp(`(^|\\s)${value}\\s`), `--help does not list exit ${value}`)
  })
})

describe('Vault: the HTTP status travels as detail', { skip: loopbackTcpSkip }, () => {
  it('400, 403 and 503 from the Vault test server: the right code, detail.httpStatus, and the client error as cause', async () => {
    const w = await world((server) => {
      server.kvPut('secret/gw', { api_key: 'sk-vault' })
      return ['a', 'b', 'c'].map((name) => `[profiles.${name}]\nsource = "vault"\n[profiles.${name}.vault]\npath = "secret/gw"\nfield = "api_key"\nauth = { method = "token", token = "env:T" }\n`).join('\n')
    })
    w.env.T = w.server.createToken({ policies: ['root'] })
    const cases: [string, number, string[], ErrorCode][] = [
      ['a', 400, ['invalid request'], 'ERR_SOURCE_UNAVAILABLE'],
      ['b', 403, ['permission denied'], 'ERR_SOURCE_DENIED'],
      ['c', 503, ['Vault is sealed'], 'ERR_SOURCE_UNAVAILABLE'],
    ]
    for (const [profile, status, errors, code] of cases) {
      w.server.faults.push({ match: /^GET \/v1\/secret\/data\/gw$/, status, errors, times: 1 })
      const error = await rejects(w.get(profile))
      assert.equal(error.code, code, `${status}: ${error.message}`)
      assert.equal(error.detail.httpStatus, status)
      let cause: unknown = error
      while (cause instanceof CcredError) cause = cause.cause
      assert.ok(cause instanceof VaultHttpError, `the Vault client's error is kept as cause (${status})`)
      assert.equal(cause.status, status)
    }
  })
})

describe('OIDC: OAuth errors mapped in one place', { skip: loopbackTcpSkip }, () => {
  /** A token endpoint that answers every grant with the given status and RFC 6749 section 5.2 error body. */
  async function idp(answer: { status: number; body: Record<string, string> }) {
    const server = createServer((req, res) => {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ issuer: base, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks`, response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['ES256'] }))
      }
      req.resume()
      req.on('end', () => {
        res.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(JSON.stringify(answer.body))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    servers.push(server)
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }
  const servers: ReturnType<typeof createServer>[] = []
  const dirs: string[] = []
  after(() => {
    for (const server of servers) server.close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })

  async function clientCredentialsFailure(answer: { status: number; body: Record<string, string> }): Promise<CcredError> {
    const issuer = await idp(answer)
    const dir = mkdtempSync(join(tmpdir(), 'ccred-oidc-errors-'))
    dirs.push(dir)
    const configPath = join(dir, 'config.toml')
    writeFileSync(configPath, `[profiles.ci]\nsource = "oidc"\n[profiles.ci.oidc]\nissuer = "${issuer}"\nclient_id = "bot"\ngrant = "client_credentials"\nclient_secret = "env:SECRET"\nscopes = ["gateway"]\n`)
    const service = new CredentialService({ env: { HOME: dir, SECRET: 'cs-secret' }, clock: new FakeClock(), configPath, explicitConfig: true, store: new MemoryStore() })
    try {
      await service.get({ profile: 'ci', callerTtlMs: 60_000 })
    } catch (error) {
      assert.ok(error instanceof CcredError, String(error))
      return error
    } finally {
      await service.close()
    }
    assert.fail('the grant succeeded')
  }

  // RFC 6749 section 5.2 errors come with a 4xx; server_error and temporarily_unavailable say
  // the IdP is down or busy (some IdPs send them on a 400), which is no refusal.
  const cases: [number, string, ErrorCode][] = [
    [400, 'temporarily_unavailable', 'ERR_SOURCE_UNAVAILABLE'],
    [400, 'server_error', 'ERR_SOURCE_UNAVAILABLE'],
    [401, 'invalid_client', 'ERR_SOURCE_DENIED'],
    [400, 'unauthorized_client', 'ERR_SOURCE_DENIED'],
    [400, 'invalid_scope', 'ERR_SOURCE_DENIED'],
  ]
  it('a 5xx (openid-client reads no OAuth error from it) is ERR_SOURCE_UNAVAILABLE with the status as detail', async () => {
    for (const status of [500, 503]) {
      const error = await clientCredentialsFailure({ status, body: { error: 'temporarily_unavailable' } })
      assert.equal(error.code, 'ERR_SOURCE_UNAVAILABLE', error.message)
      assert.equal(error.detail.httpStatus, status)
      assert.match(error.message, new RegExp(`HTTP ${status}`))
    }
  })
  for (const [status, oauthError, code] of cases) {
    it(`${oauthError} (${status}) is ${code}, with the OAuth error and status as detail`, async () => {
      const error = await clientCredentialsFailure({ status, body: { error: oauthError, error_description: 'said \u001b[31mby\u009b the \u202eIdP' } })
      assert.equal(error.code, code, error.message)
      assert.equal(error.detail.oauthError, oauthError)
      assert.equal(error.detail.httpStatus, status)
      assert.ok(error.cause !== undefined, 'the openid-client error is kept as cause')
      assert.ok(!/[\u001b\u009b\u202e]/.test(error.message), `the IdP's error_description reached the message raw: ${JSON.stringify(error.message)}`)
      assert.match(error.message, new RegExp(`${oauthError} \\(said \\\\x1b\\[31mby\\\\x9b the \\\\u202eIdP\\)`))
    })
  }
})
