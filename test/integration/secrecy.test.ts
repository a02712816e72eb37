// Secrecy: one sandbox with a canary secret planted in every source ccred has (static from
// env, file and the opt-in file store; exec; the jwt HS256 key; a Vault KV value and the
// approle secret_id; AWS container credentials; the OIDC client secret; a gcloud refresh
// token), then the commands a user runs, working and failing. The canary may appear on the
// stdout of the commands whose job is to print a credential, in the file store that must hold
// it, and in the files this test wrote to plant it; nowhere else: not in any other stdout, any
// stderr, the audit log, the daemon log, `status --json`, `doctor`, or any file under the
// sandbox's HOME and runtime directory — nor its base64, base64url or hex forms.
// Also: the daemon runs with core dumps off, and a runtime directory others can write to or
// that another user owns is refused.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ERROR_EXIT_CODES, type ErrorCode } from '../../src/errors.js'
import { after, before, describe, it } from 'node:test'
import { AwsKeyring, startContainerCredentials, type AwsKey, type ContainerRequest, type StubServer } from '../helpers/aws-servers.js'
import { startForwardProxy, type Proxy } from '../helpers/forward-proxy.js'
import { GoogleTokens, makeGoogleTokenCertificate, startGoogleOAuth, type GoogleOAuthServer, type TestCertificate } from '../helpers/gcp-oauth-server.js'
import { refusedLoopbackPort } from '../helpers/listen.js'
import { oidcProfileToml, SECRET_CLIENT, startTestProvider, type TestProvider } from '../helpers/oidc-provider.js'
import { Sandbox, waitFor, type CliResult, sandboxesCleanedUpAfterAll } from '../helpers/sandbox.js'
import { startVaultServer, type VaultTestServer } from '../helpers/vault-server.js'

const MINUTE = 60_000
/** ≥ 32 bytes, so it is also a valid HS256 key (RFC 7518 §3.2). */
const CANARY = `ccred-canary-${randomBytes(16).toString('hex')}`
const CONTAINER_TOKEN = `container-auth-${randomBytes(8).toString('hex')}`

/** Every form of a secret the scan looks for: as is, hex, and base64/base64url at each of the three byte alignments. */
function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8')
  const found = new Set([secret, bytes.toString('hex'), bytes.toString('hex').toUpperCase()])
  for (const pad of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(pad, 0x41), bytes])
    for (const encoding of ['base64', 'base64url'] as const) {
      const text = padded.toString(encoding)
      // Drop the characters that also encode the padding, and the tail that depends on what follows.
      found.add(text.slice(pad === 0 ? 0 : 4, text.length - 4))
    }
  }
  return [...found]
}

/** The container endpoint hands out the canary as SecretAccessKey. */
class CanaryKeyring extends AwsKeyring {
  override issue(principal: string, lifetimeMs: number): AwsKey & { sessionToken: string; expiration: Date } {
    const key = super.issue(principal, lifetimeMs)
    key.secretAccessKey = CANARY
    return key
  }
}

let vault: VaultTestServer
let provider: TestProvider
let container: StubServer<ContainerRequest> & { issued: AwsKey[] }
let google: GoogleOAuthServer | undefined
let googleProxy: Proxy | undefined
let certificate: TestCertificate | undefined
let gcpMissing: string | undefined
let closedPort: number
let approleSecretId: string
let approleRoleId: string
const sandboxes = sandboxesCleanedUpAfterAll()

before(async () => {
  vault = await startVaultServer()
  vault.policy('canary', { 'secret/data/canary/*': ['read'] })
  vault.kvPut('secret/canary/gateway', { api_key: CANARY, team: 'platform' })
  const ids = vault.approleRole('ci', { policies: ['canary'], ttlMs: 20 * MINUTE })
  approleRoleId = ids.roleId
  approleSecretId = ids.secretId
  provider = await startTestProvider()
  container = await startContainerCredentials({ keyring: new CanaryKeyring(), authorizationToken: CONTAINER_TOKEN })
  const made = makeGoogleTokenCertificate()
  if ('missing' in made) gcpMissing = made.missing
  else {
    certificate = made
    google = await startGoogleOAuth({ tokens: new GoogleTokens(), refreshTokens: new Map([[CANARY, 'dev@acme.example']]) }, certificate)
    if (google.tlsPort !== undefined) googleProxy = await startForwardProxy({ upstreamPort: google.tlsPort, requireProxyAuth: () => true })
    else gcpMissing = 'the Google stub has no TLS port'
  }
  closedPort = await refusedLoopbackPort()
})

after(async () => {
  await Promise.all([vault?.close(), provider?.close(), container?.close(), google?.close(), googleProxy?.close()])
  certificate?.cleanup()
})

/** Every file under `dir`, recursively (sockets and other non-files are listed too, but not read). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...filesUnder(path))
    else out.push(path)
  }
  return out
}

interface Ran {
  what: string
  result: CliResult
  /** The command's job is to print the credential: its stdout is not scanned. */
  printsValue: boolean
}

describe('secrecy: a canary secret in every source', () => {
  it('appears only where a credential is printed, in the opted-in file store, and in the files planted by this test', async (t) => {
    const secrets: string[] = [CANARY, approleSecretId, approleRoleId, provider.clientSecret, CONTAINER_TOKEN]
    const gcpEnv: Record<string, string> = googleProxy === undefined || certificate === undefined ? {} : { HTTPS_PROXY: googleProxy.url, NODE_EXTRA_CA_CERTS: certificate.certPath }
    const box = new Sandbox({
      CANARY_ENV: CANARY,
      VAULT_ADDR: vault.url,
      VAULT_ROLE_ID: approleRoleId,
      VAULT_SECRET_ID: approleSecretId,
      CI_OIDC_SECRET: provider.clientSecret,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/v2/credentials/task-1`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: CONTAINER_TOKEN,
      GCE_METADATA_HOST: `127.0.0.1:${closedPort}`,
      NO_PROXY: '127.0.0.1,localhost',
      ...gcpEnv,
    })
    sandboxes.push(box)

    // Files this test writes to plant the canary. Outside HOME unless the source reads a fixed place in it.
    const canaryFile = box.file('canary.key')
    writeFileSync(canaryFile, `${CANARY}\n`, { mode: 0o600 })
    const twoLines = box.file('two-lines.key')
    writeFileSync(twoLines, `${CANARY}\n${CANARY}\n`, { mode: 0o600 })
    const execJson = box.writeScript('exec-json.sh', `#!/bin/sh\nprintf '{"token": "%s", "expires_in": 3600}\\n' '${CANARY}'\n`)
    const execFails = box.writeScript('exec-fails.sh', `#!/bin/sh\necho '${CANARY}'\necho 'upstream said: ${CANARY}' >&2\nexit 3\n`)
    const execTwoLines = box.writeScript('exec-two-lines.sh', `#!/bin/sh\necho '${CANARY}'\necho '${CANARY}'\n`)
    const execBadJson = box.writeScript('exec-bad-json.sh', `#!/bin/sh\nprintf '{"token": "%s", "expires_at": "soon"}\\n' '${CANARY}'\n`)
    const execPast = box.writeScript('exec-past.sh', `#!/bin/sh\nprintf '{"token": "%s", "expires_at": "2001-01-01T00:00:00Z"}\\n' '${CANARY}'\n`)
    const planted = new Set<string>()
    if (gcpMissing === undefined) {
      const gcloudDir = join(box.home, '.config', 'gcloud')
      mkdirSync(gcloudDir, { recursive: true })
      const adc = join(gcloudDir, 'application_default_credentials.json')
      writeFileSync(adc, JSON.stringify({ client_id: 'cid.apps.googleusercontent.com', client_secret: 'cs', refresh_token: CANARY, type: 'authorized_user' }))
      planted.add(adc)
    } else {
      // Said out loud: the rest of the scan still runs, but the report shows this test as skipped
      // (and CCRED_TEST_NO_SKIP=1 turns that into a failure), not as a pass that left GCP out.
      t.skip(`the GCP canary is not planted: ${gcpMissing}`)
    }

    box.writeConfig(`[broker]
store = "file"

[vault]
auth = { method = "approle", role_id = "env:VAULT_ROLE_ID", secret_id = "env:VAULT_SECRET_ID" }

[profiles.static-env]
source = "static"
value = "env:CANARY_ENV"

[profiles.static-file]
source = "static"
value = "file:${canaryFile}"
header = "proxy-authorization"

[profiles.static-store]
source = "static"
value = "keychain:canary-store"

[profiles.exec]
source = "exec"
command = ["${execJson}"]

[profiles.jwt]
source = "jwt"
[profiles.jwt.jwt]
algorithm = "HS256"
key = "env:CANARY_ENV"
lifetime = "10m"
claims = { sub = "\${USER}", aud = "gateway" }

[profiles.vault]
source = "vault"
[profiles.vault.vault]
path = "secret/canary/gateway"
field = "api_key"

[profiles.aws]
source = "aws"

[profiles.bedrock]
source = "aws"
[profiles.bedrock.aws]
token = "bedrock-api-key"
region = "us-west-2"
${oidcProfileToml(provider.issuer, 'oidc', SECRET_CLIENT)}
${gcpMissing === undefined ? '[profiles.gcp]\nsource = "gcp"\n' : ''}
# Failing profiles: each error must say what went wrong without the secret.
[profiles.bad-file]
source = "static"
value = "file:${twoLines}"

[profiles.bad-exec-fails]
source = "exec"
command = ["${execFails}"]

[profiles.bad-exec-lines]
source = "exec"
command = ["${execTwoLines}"]

[profiles.bad-exec-json]
source = "exec"
command = ["${execBadJson}"]

[profiles.bad-exec-past]
source = "exec"
command = ["${execPast}"]

[profiles.bad-jwt-hs512]
source = "jwt"
[profiles.bad-jwt-hs512.jwt]
algorithm = "HS512"
key = "env:CANARY_ENV"

[profiles.bad-jwt-pem]
source = "jwt"
[profiles.bad-jwt-pem.jwt]
algorithm = "ES256"
key = "env:CANARY_ENV"

[profiles.bad-vault-field]
source = "vault"
[profiles.bad-vault-field.vault]
path = "secret/canary/gateway"
field = "nope"
`)
    // A literal secret in a config file is refused without echoing it; that file lives outside HOME.
    const literalConfig = box.file('literal.toml')
    writeFileSync(literalConfig, `[profiles.literal]\nsource = "static"\nvalue = "${CANARY}"\n\n[profiles.literal-basic]\nsource = "static"\nscheme = "basic"\nvalue = "user:${CANARY}"\n`)

    const ran: Ran[] = []
    const run = async (args: string[], options: { printsValue?: boolean; input?: string; env?: Record<string, string | undefined> } = {}) => {
      const result = await box.run(args, { timeoutMs: 60_000, ...(options.input === undefined ? {} : { input: options.input }), ...(options.env === undefined ? {} : { env: options.env }) })
      ran.push({ what: `ccred ${args.join(' ')}`, result, printsValue: options.printsValue ?? false })
      return result
    }

    // Store the canary in the opted-in file store (stdin, never argv).
    const stored = await run(['set', 'static-store'], { input: CANARY })
    assert.equal(stored.code, 0, stored.stderr)

    // Each working profile: get prints the canary (or a credential made with it), and so do --json and env.
    const canaryProfiles = ['static-env', 'static-file', 'static-store', 'exec', 'vault']
    for (const profile of canaryProfiles) {
      const got = await run(['get', profile], { printsValue: true })
      assert.equal(got.code, 0, `${profile}: ${got.stderr}`)
      assert.ok(got.stdout.includes(CANARY), `${profile}: get prints the planted value`)
    }
    const minted = ['jwt', 'bedrock', 'oidc', ...(gcpMissing === undefined ? ['gcp'] : [])]
    const values: Record<string, string> = {}
    for (const profile of minted) {
      const got = await run(['get', profile], { printsValue: true })
      assert.equal(got.code, 0, `${profile}: ${got.stderr}`)
      values[profile] = got.stdout.trim()
    }
    const exported = await run(['aws-export', 'aws'], { printsValue: true })
    assert.equal(exported.code, 0, exported.stderr)
    assert.equal((JSON.parse(exported.stdout) as { Credentials: { SecretAccessKey: string } }).Credentials.SecretAccessKey, CANARY, 'aws-export prints the planted secret key')
    for (const profile of [...canaryProfiles, ...minted]) await run(['get', profile, '--json'], { printsValue: true })
    await run(['get', 'static-env', '--refresh'], { printsValue: true })
    await run(['get', 'static-file', '--header', 'proxy-authorization'], { printsValue: true })
    // `env` and `exec` exist to hand the value over: env's stdout is the exports (not scanned); exec's child prints nothing.
    await run(['env', 'static-env'], { printsValue: true })
    await run(['env', 'aws'], { printsValue: true })
    const execd = await run(['exec', 'static-env', '--', 'sh', '-c', 'test -n "$ANTHROPIC_AUTH_TOKEN$ANTHROPIC_API_KEY" && echo set'])
    assert.equal(execd.code, 0, execd.stderr)

    // A derived credential never carries its secret: the HS256 token, once decoded, names no key.
    const decoded = await run(['jwt', 'decode'], { input: `${values.jwt}\n` })
    assert.equal(decoded.code, 0, decoded.stderr)
    await run(['jwt', 'jwks', 'jwt'])

    // Commands that describe, check and set up: none prints the value.
    for (const args of [['status'], ['status', '--json'], ['profiles'], ['profiles', '--json'], ['doctor'], ['doctor', '--json'], ['doctor', 'static-env'], ['doctor', 'jwt', '--json'],
      ['setup', 'claude', 'static-env', '--dry-run'], ['setup', 'claude', 'static-file', '--mode', 'proxy', '--proxy', 'http://127.0.0.1:9', '--dry-run'], ['daemon', 'status']]) {
      await run(args)
    }

    // Failing gets: a coded error naming the problem, never the value.
    // Each with the code its fault is documented to have, and that code's exit status.
    const failing: Record<string, ErrorCode> = {
      'bad-file': 'ERR_SOURCE_OUTPUT', 'bad-exec-fails': 'ERR_SOURCE_UNAVAILABLE', 'bad-exec-lines': 'ERR_SOURCE_OUTPUT', 'bad-exec-json': 'ERR_SOURCE_OUTPUT',
      'bad-exec-past': 'ERR_SOURCE_OUTPUT', 'bad-jwt-hs512': 'ERR_CONFIG', 'bad-jwt-pem': 'ERR_CONFIG', 'bad-vault-field': 'ERR_SOURCE_OUTPUT',
    }
    for (const [profile, code] of Object.entries(failing)) {
      const got = await run(['get', profile])
      assert.equal(got.code, ERROR_EXIT_CODES[code], `${profile} fails with ${code}: ${got.stderr}`)
      assert.match(got.stderr, new RegExp(`^ccred: profile ${profile}: [^\\n]* \\[${code}\\] — [^\\n]+\\n$`), `${profile}: one line, ${code} and a hint`)
      t.diagnostic(`get ${profile}: ${got.stderr.trim().split('\n')[0]}`)
      await run(['get', profile, '--json'])
    }
    // Its own daemon (one daemon serves one config), with its runtime directory under HOME so the scan covers it.
    const literalRuntime = join(box.home, 'run-literal')
    for (const args of [['get', 'literal'], ['get', 'literal-basic'], ['profiles'], ['doctor', 'literal'], ['status', '--json'], ['daemon', 'stop']]) {
      const got = await run(args, { env: { CCRED_CONFIG: literalConfig, CCRED_RUNTIME_DIR: literalRuntime } })
      if (args[0] === 'get') assert.equal(got.code, 3, `${args.join(' ')}: a literal value is a config error: ${got.stderr}`)
    }
    // The same failures once more through the in-process path (no daemon).
    for (const profile of ['bad-exec-fails', 'bad-jwt-hs512', 'bad-vault-field']) await run(['get', profile], { env: { CCRED_NO_DAEMON: '1' } })
    await run(['status', '--json'])
    await run(['doctor', '--json'])

    // The scan: every output, the logs, every file under HOME and the runtime directory, with the
    // daemon running (pid file, lock) and again after it stopped (what it leaves behind).
    const allowed = new Set([join(box.dataDir, 'secrets.json'), ...planted])
    // The credentials made from the planted secrets are secrets too: the tokens minted (jwt, oidc, gcp,
    // the Bedrock key), the Vault token the approle login gave, the AWS session tokens.
    secrets.push(...Object.values(values), ...vault.liveTokens('auth/approle/login').map((token) => token.id),
      ...container.issued.map((key) => key.sessionToken!))
    assert.ok(vault.liveTokens('auth/approle/login').length > 0 && container.issued.length > 0)
    const leaks: string[] = []
    const needles = secrets.flatMap((secret) => forms(secret).map((form) => ({ secret: secret === CANARY ? 'canary' : 'a planted secret', form })))
    const scan = (where: string, text: string) => {
      for (const { secret, form } of needles) if (text.includes(form)) leaks.push(`${secret} (${form === CANARY ? 'as is' : `as ${form.slice(0, 12)}…`}) in ${where}`)
    }
    // The needles find the canary encoded at any offset (else the scan below could pass by not looking).
    for (const encoded of [Buffer.from(`x${CANARY}`).toString('base64'), Buffer.from(`xy${CANARY}!`).toString('base64url'), Buffer.from(CANARY).toString('hex')]) {
      scan('self-check', `prefix ${encoded} suffix`)
      assert.equal(leaks.splice(0).length > 0, true, `the scan finds ${encoded}`)
    }
    const scanned = new Set<string>()
    const scanFiles = () => {
      for (const path of [...filesUnder(box.home), ...filesUnder(box.runtimeDir)]) {
        if (allowed.has(path) || !statSync(path).isFile()) continue
        scanned.add(relative(box.root, path))
        scan(relative(box.root, path), readFileSync(path, 'latin1'))
      }
    }
    assert.ok(box.daemonPid() !== undefined, 'a daemon served these')
    scanFiles()
    const stop = await run(['daemon', 'stop'])
    assert.equal(stop.code, 0, stop.stderr)
    scanFiles()
    assert.ok(readFileSync(join(box.dataDir, 'secrets.json'), 'utf8').includes(CANARY), 'the opted-in file store holds the stored value')
    assert.ok(box.auditLines().length >= 20, 'the audit log recorded the gets')
    assert.match(box.daemonLog(), /\S/, 'the daemon logged')
    for (const { what, result, printsValue } of ran) {
      if (!printsValue) scan(`stdout of ${what}`, result.stdout)
      scan(`stderr of ${what}`, result.stderr)
    }
    t.diagnostic(`scanned ${ran.length} commands' output and ${scanned.size} files: ${[...scanned].join(', ')}`)
    assert.ok([...scanned].some((path) => path.endsWith('audit.log')) && [...scanned].some((path) => path.endsWith('daemon.log')), 'the logs were scanned')
    assert.deepEqual(leaks, [], 'the canary appears nowhere else')
    // The failures left a trace the user can act on, without the value: the scan above is not vacuous.
    const failedRuns = ran.filter((r) => r.what.startsWith('ccred get bad-') && !r.what.includes('--json'))
    assert.ok(failedRuns.every((r) => r.result.stderr.length > 20))
  })
})

describe('secrecy: the daemon process', () => {
  it('runs with core dumps off, autostarted or in the foreground, even when the shell allows them', async (t) => {
    if (process.platform !== 'linux') {
      t.diagnostic(`skipped: reads /proc/<pid>/limits, which ${process.platform} does not have`)
      t.skip('not Linux')
      return
    }
    // Raise this process's core limit (children inherit it), so a daemon that did nothing would show it.
    const coreLine = (text: string) => /^Max core file size\s+(\S+)\s+(\S+)/m.exec(text)
    let raised = spawnSync('prlimit', ['--pid', String(process.pid), '--core=unlimited:unlimited'], { encoding: 'utf8' })
    if (raised.status !== 0) {
      // Not root: the soft limit can still go up to the hard one.
      const hard = coreLine(readFileSync(`/proc/${process.pid}/limits`, 'utf8'))?.[2] ?? '0'
      raised = spawnSync('prlimit', ['--pid', String(process.pid), `--core=${hard}:${hard}`], { encoding: 'utf8' })
    }
    const ownSoftLimit = coreLine(readFileSync(`/proc/${process.pid}/limits`, 'utf8'))?.[1]
    if (ownSoftLimit === undefined || ownSoftLimit === '0') {
      // Comparing the daemon's 0 with a limit that was already 0 proves nothing: skip, loudly.
      t.skip(`the test could not raise its own core limit (${raised.error?.message ?? (raised.stderr.trim() || `hard limit ${ownSoftLimit ?? '?'}`)}), so a daemon that did nothing would also show 0`)
      return
    }
    const box = new Sandbox()
    sandboxes.push(box)
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    const pid = box.daemonPid()!
    assert.equal(coreLine(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1], '0', 'autostarted daemon: Max core file size 0')
    const stopped = await box.run(['daemon', 'stop'])
    assert.equal(stopped.code, 0, stopped.stderr)

    // `ccred daemon run` (systemd, launchd, debugging) sets it itself.
    const foreground = box.start(['daemon', 'run'], { timeoutMs: 30_000 })
    try {
      await waitFor(() => box.daemonPid() !== undefined, 'the foreground daemon', 10_000)
      const fgPid = box.daemonPid()!
      await waitFor(() => coreLine(readFileSync(`/proc/${fgPid}/limits`, 'utf8'))?.[1] === '0', 'core limit 0 in the foreground daemon', 5_000)
    } finally {
      await box.run(['daemon', 'stop'])
      await foreground.done.catch(() => undefined)
    }
  })
})

describe('secrecy: the runtime directory', () => {
  for (const [label, mode] of [['group-writable (0770)', 0o770], ['world-writable with the sticky bit (1777)', 0o1777], ['group-readable (0750)', 0o750]] as const) {
    it(`a ${label} runtime directory is refused; get answers in-process`, async () => {
      const box = new Sandbox()
      sandboxes.push(box)
      mkdirSync(box.runtimeDir)
      chmodSync(box.runtimeDir, mode)
      const got = await box.run(['get', 'demo'])
      assert.equal(got.code, 0, got.stderr)
      assert.match(got.stderr, /^ccred: warning: not using the daemon: runtime directory \S+ is accessible to other users \(mode \d+\); refusing to use it; fetching in this process \[WARN_DAEMON_FALLBACK\] — run: chmod 700 \S+\n$/)
      assert.equal(box.daemonPid(), undefined, 'no daemon started there')
      assert.ok(!existsSync(join(box.runtimeDir, 'ccred.sock')))
      const start = await box.run(['daemon', 'start'])
      assert.notEqual(start.code, 0)
    })
  }

  it('a runtime directory owned by another user is refused (needs root to make one)', async (t) => {
    if (process.getuid?.() !== 0) {
      t.diagnostic('skipped: not root, cannot give a directory to another user')
      t.skip('not root')
      return
    }
    const box = new Sandbox()
    sandboxes.push(box)
    mkdirSync(box.runtimeDir, { mode: 0o700 })
    chmodSync(box.runtimeDir, 0o700)
    chownSync(box.runtimeDir, 65534, 65534) // nobody
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, 0, got.stderr)
    assert.match(got.stderr, /not using the daemon: runtime directory \S+ belongs to uid 65534, not to you \(uid 0\); refusing to use it/)
    assert.ok(!existsSync(join(box.runtimeDir, 'ccred.sock')))
    const start = await box.run(['daemon', 'start'])
    assert.notEqual(start.code, 0)
    assert.match(start.stderr, /belongs to uid 65534/)
  })
})
