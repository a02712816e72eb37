import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { checkCredential } from '../../src/broker/validate.js'
import { parseHelperTtlMs } from '../../src/callers/claude-code.js'
import { readSettings } from '../../src/setup/claude-settings.js'
import { parseDurationMs } from '../../src/config/duration.js'
import { parseConfig } from '../../src/profiles/load.js'
import { parseReference, resolveReference, type ReferenceDeps } from '../../src/config/references.js'
import { STARTER_CONFIG } from '../../src/config/starter.js'
import { CcredError, ERROR_EXIT_CODES } from '../../src/errors.js'
import { placeholderProblems, renderClaim, templateProblems, type ClaimTemplate, type TemplateVariables } from '../../src/jwt/claims.js'
import { JWT_ALGORITHMS, KeyProblem, loadSigningKey } from '../../src/jwt/keys.js'
import { parseOutput } from '../../src/sources/exec.js'
import { codeBlocks, docPages } from '../helpers/docs.js'

/**
 * Hostile input (issue 8, item 3): every parser that reads something a user, a
 * script or a file wrote gets arbitrary and near-valid input. The properties:
 * never a crash, only a coded CcredError (or the module's own problem type),
 * never a secret-looking value echoed back. Runs are bounded so the file takes
 * a few seconds; fast-check prints the seed and the shrunk case on failure.
 */

const meta = { path: '/cfg/config.toml', fromFile: true, stamp: 'test' }
const parse = (text: string) => parseConfig(text, '/cfg/config.toml', meta)

/** A value that looks like an API key: long enough that no message may quote it. */
const secretArb = fc.stringMatching(/^[A-Za-z0-9]{32,48}$/).map((tail) => `sk-${tail}`)

/** Calls parseConfig; every outcome must be a config or an ERR_CONFIG, and no message may hold a secret. */
async function checkConfig(text: string, secrets: string[]): Promise<void> {
  let messages: string[]
  try {
    const config = await parse(text)
    messages = []
    for (const [name, error] of config.invalidProfiles) {
      assert.ok(error instanceof CcredError, `profile ${name}: not a CcredError`)
      assert.equal(error.code, 'ERR_CONFIG')
      messages.push(error.message, error.hint ?? '')
    }
  } catch (error) {
    assert.ok(error instanceof CcredError, `threw ${String(error)}`)
    assert.equal(error.code, 'ERR_CONFIG')
    assert.ok(error.hint !== undefined && error.hint !== '', 'an ERR_CONFIG says what to do next')
    messages = [error.message, error.hint]
  }
  for (const secret of secrets) {
    for (const message of messages) assert.ok(!message.includes(secret), `the message echoes a secret: ${message}`)
  }
}

/** TOML text for a generated value (strings are JSON-escaped, which TOML basic strings accept). */
function tomlValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value).replace(/\u2028|\u2029/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toExponential()
  if (typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`
  const entries = Object.entries(value as Record<string, unknown>)
  return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)} = ${tomlValue(v)}`).join(', ')} }`
}

const SOURCE_KINDS = ['static', 'exec', 'demo', 'jwt', 'vault', 'gcp', 'aws', 'oidc', 'nope']
/** Keys the sources read, so generated tables hit real code paths and not only "unknown key". */
const KEYS = [
  'source', 'value', 'header', 'description', 'lifetime', 'command', 'shell', 'timeout', 'algorithm', 'key', 'claims', 'kid',
  'issuer', 'client_id', 'client_secret', 'private_key', 'scopes', 'resource', 'audience', 'token', 'grant', 'login', 'redirect_port',
  'path', 'field', 'refresh', 'mount', 'method', 'role', 'role_id', 'secret_id', 'jwt', 'address', 'auth', 'namespace', 'ca_cert',
  'impersonate', 'credentials', 'delegates', 'profile', 'region', 'role_arn', 'duration', 'external_id', 'session_name',
  'skew', 'store', 'idle_exit', 'reissue_interval', 'audit', 'subject_token', 'actor_token', 'device', 'env', 'x',
]
const NESTED = ['jwt', 'vault', 'gcp', 'aws', 'oidc', 'auth']

const scalarArb = (secret: string) => fc.oneof(
  fc.constantFrom('5m', '1h30m', '0s', '-1s', '99999999999999999999999d', '1.5h', 'ms', '', ' ', '\n', '10', 'ES256', 'HS256', 'none'),
  fc.constantFrom('env:HOME', 'env:', 'env:1BAD', 'file:~/k', 'file:', 'keychain:x', 'vault:secret/x#f', 'vault:#', 'vault:a b#c', 'http://127.0.0.1:1', 'https://login.example.com'),
  fc.constantFrom('${USER}', '${env:X}', '${nope}', '${', '${env:}', 'access_token', 'id_token', 'client_credentials', 'device_code', 'bedrock-api-key', 'credentials'),
  fc.constant(secret),
  fc.string({ maxLength: 30 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
)

const valueArb = (secret: string) => fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalarArb(secret), tie('array'), tie('table')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  table: fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 4 }),
})).value

/** A profile table: a source, some known keys, maybe a nested source table. */
const profileArb = (secret: string) => fc.record({
  source: fc.constantFrom(...SOURCE_KINDS),
  keys: fc.dictionary(fc.constantFrom(...KEYS), valueArb(secret), { maxKeys: 5 }),
  nested: fc.option(fc.tuple(fc.constantFrom(...NESTED), fc.dictionary(fc.constantFrom(...KEYS), valueArb(secret), { maxKeys: 6 }))),
})

const PROFILE_NAMES = ['demo', 'a', 'x.y-z_1', '../../etc/passwd', 'with space', '', 'é', 'a'.repeat(65), 'sk-"quoted"', '1']

describe('hostile config: parseConfig', () => {
  it('arbitrary strings give a config or an ERR_CONFIG, never another exception', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })), async (text) => checkConfig(text, [])), { numRuns: 300, timeout: 2_000 })
  })

  it('TOML-shaped documents with every source kind and nested table: coded errors, secrets never echoed', async () => {
    const docArb = secretArb.chain((secret) => fc.record({
      secret: fc.constant(secret),
      broker: fc.option(fc.dictionary(fc.constantFrom(...KEYS), valueArb(secret), { maxKeys: 4 })),
      vault: fc.option(fc.dictionary(fc.constantFrom(...KEYS), valueArb(secret), { maxKeys: 4 })),
      top: fc.option(fc.constantFrom('oops = 1', 'profiles = 3', 'broker = "x"', 'vault = []')),
      profiles: fc.array(fc.tuple(fc.constantFrom(...PROFILE_NAMES), profileArb(secret)), { maxLength: 3 }),
    }))
    await fc.assert(fc.asyncProperty(docArb, async (doc) => {
      const lines: string[] = []
      if (doc.top !== null) lines.push(doc.top)
      if (doc.broker !== null) lines.push('[broker]', ...Object.entries(doc.broker).map(([k, v]) => `${k} = ${tomlValue(v)}`))
      if (doc.vault !== null) lines.push('[vault]', ...Object.entries(doc.vault).map(([k, v]) => `${k} = ${tomlValue(v)}`))
      const seen = new Set<string>()
      for (const [name, profile] of doc.profiles) {
        if (seen.has(name)) continue
        seen.add(name)
        const quoted = JSON.stringify(name)
        lines.push(`[profiles.${quoted}]`, `source = ${JSON.stringify(profile.source)}`)
        for (const [k, v] of Object.entries(profile.keys)) if (k !== 'source' && k !== profile.nested?.[0]) lines.push(`${k} = ${tomlValue(v)}`)
        if (profile.nested !== null) {
          lines.push(`[profiles.${quoted}.${profile.nested[0]}]`, ...Object.entries(profile.nested[1]).map(([k, v]) => `${k} = ${tomlValue(v)}`))
        }
      }
      await checkConfig(lines.join('\n'), [doc.secret])
    }), { numRuns: 400, timeout: 2_000 })
  })

  it('mutated starter configs (values flipped, deleted, retyped, replaced by a secret) stay coded', async () => {
    const starter = uncommentedStarter()
    const valid = await parse(starter)
    assert.ok(valid.profiles.size >= 8, `the uncommented starter config parses: ${[...valid.invalidProfiles.values()].map((e) => e.message).join('; ')}`)
    await checkMutations([starter], 300)
  })

  it('every TOML example of the documentation is a whole config that parses, and its mutations stay coded', async () => {
    const examples: string[] = []
    const broken: string[] = []
    for (const page of docPages()) {
      for (const block of codeBlocks(page)) {
        if (block.info !== 'toml' || block.lineBefore === FOREIGN_CONFIG) continue
        const where = `${page.path}:${block.line}`
        try {
          const config = await parse(block.body)
          const invalid = [...config.invalidProfiles.values()].map((error) => error.message)
          if (invalid.length > 0) broken.push(`${where}: ${invalid.join('; ')}`)
          else if (config.profiles.size === 0 && !/^\[(vault|broker)\]/m.test(block.body)) broken.push(`${where}: no profile, [vault] or [broker]`)
          else examples.push(block.body)
        } catch (error) {
          broken.push(`${where}: ${(error as Error).message}`)
        }
      }
    }
    // A fragment is written whole (with the table it belongs in); another program's TOML says so.
    assert.deepEqual(broken, [], `TOML examples that are not whole ccred configs (another program's file: put ${FOREIGN_CONFIG} on the line before)`)
    assert.ok(examples.length >= 20, `the documentation has whole TOML examples (found ${examples.length})`)
    await checkMutations(examples, 300)
  })
})

/** Marks a TOML block of the documentation that is another program's file (Codex's config.toml), not ccred's. */
const FOREIGN_CONFIG = '<!-- not a ccred config -->'

/** Applies 1-4 random mutations to the `key = value` lines of one of `texts` and checks each result. */
async function checkMutations(texts: string[], numRuns: number): Promise<void> {
  const documents: { lines: string[]; valueLines: number[] }[] = []
  for (const text of texts) {
    const lines = text.split('\n')
    const valueLines = lines.flatMap((line, index) => (/^\w+ = /.test(line) ? [index] : []))
    // The unmutated text parses, so the mutations reach the profile parsers and not only TOML errors.
    await parse(text)
    if (valueLines.length > 0) documents.push({ lines, valueLines })
  }
  const mutation = fc.record({
    at: fc.nat(),
    how: fc.constantFrom('delete', 'secret', 'number', 'bool', 'array', 'table', 'empty', 'garbage', 'duplicate'),
    garbage: fc.string({ maxLength: 20 }),
  })
  await fc.assert(fc.asyncProperty(fc.nat({ max: documents.length - 1 }), secretArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), async (which, secret, mutations) => {
    const { lines, valueLines } = documents[which]!
    const out = [...lines]
    for (const { at, how, garbage } of mutations) {
      const index = valueLines[at % valueLines.length]!
      const key = out[index]!.split(' = ')[0]
      out[index] = how === 'delete' ? ''
        : how === 'secret' ? `${key} = "${secret}"`
          : how === 'number' ? `${key} = 42`
            : how === 'bool' ? `${key} = true`
              : how === 'array' ? `${key} = ["${secret}", 1]`
                : how === 'table' ? `${key} = { nested = "${secret}" }`
                  : how === 'empty' ? `${key} = ""`
                    : how === 'garbage' ? `${key} = ${garbage}`
                      : `${out[index]}\n${out[index]}`
    }
    await checkConfig(out.join('\n'), [secret])
  }), { numRuns, timeout: 2_000 })
}

/**
 * The starter config with every example uncommented; where an example shows
 * alternatives for one key (the [vault] auth lines) the first one is kept.
 */
function uncommentedStarter(): string {
  const out: string[] = []
  let seen = new Set<string>()
  for (const raw of STARTER_CONFIG.split('\n')) {
    const match = /^# ?(\[[^\]]+\]|[a-z_]+ = .*)$/.exec(raw)
    const line = match === null ? raw : match[1]!
    if (line.startsWith('[')) seen = new Set()
    const key = /^([a-z_]+) = /.exec(line)?.[1]
    if (key !== undefined) {
      if (seen.has(key)) continue
      seen.add(key)
    }
    out.push(line.replace(/\s+#.*$/, (comment) => (comment.includes('"') ? comment : '')))
  }
  return out.join('\n')
}

describe('hostile references', () => {
  const deps = (env: Record<string, string>): ReferenceDeps => ({
    env,
    homeDir: '/home/u',
    readFile: async (path) => {
      if (path.includes('big')) return 'x'.repeat(70 * 1024)
      if (path.includes('missing')) throw Object.assign(new Error('nope'), { code: 'ENOENT' })
      return 'value\n'
    },
    storeGet: async (name) => (name.startsWith('k') ? 'stored' : undefined),
    storeDescription: 'the test store',
    readVault: async (target) => {
      if (target.includes('deny')) throw new CcredError('ERR_SOURCE_DENIED', 'denied', { hint: 'h' })
      return 'from-vault'
    },
  })

  /** What resolving a reference against `deps(env)` must give: the value, or the exact code and hint. */
  const expectedResolution = (kind: string, target: string, env: Record<string, string>): { value?: string; code?: string; hint?: string } => {
    const where = 'profiles.x.value'
    switch (kind) {
      case 'env':
        return Object.hasOwn(env, target) && env[target] !== ''
          ? { value: env[target]! }
          : { code: 'ERR_REFERENCE', hint: `export ${target} in the shell, then run: ccred daemon stop   (the daemon keeps the environment it started with)` }
      case 'file': {
        const path = target.startsWith('~/') ? `/home/u${target.slice(1)}` : target
        if (path.includes('big')) return { code: 'ERR_REFERENCE', hint: `point ${where} at a file that holds only the secret` }
        if (path.includes('missing')) return { code: 'ERR_REFERENCE', hint: `create it with the secret on one line (chmod 600), or change ${where}` }
        return { value: 'value' }
      }
      case 'keychain':
        return target.startsWith('k') ? { value: 'stored' } : { code: 'ERR_REFERENCE', hint: 'store it with: ccred set x' }
      default:
        return target.includes('deny') ? { code: 'ERR_SOURCE_DENIED', hint: 'h' } : { value: 'from-vault' }
    }
  }

  it('parseReference accepts only known kinds with a target; resolveReference fails only with coded errors', async () => {
    const textArb = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.tuple(fc.constantFrom('env', 'file', 'keychain', 'vault', 'ENV', 'http', ''), fc.constantFrom(':', '::', ''), fc.string({ maxLength: 30 })).map(([a, b, c]) => a + b + c),
    )
    await fc.assert(fc.asyncProperty(textArb, fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), async (text, env) => {
      const ref = parseReference(text)
      if (ref === undefined) return
      assert.ok(['env', 'file', 'keychain', 'vault'].includes(ref.kind))
      assert.notEqual(ref.target, '')
      assert.equal(`${ref.kind}:${ref.target}`, text)
      const expected = expectedResolution(ref.kind, ref.target, env)
      try {
        const value = await resolveReference(ref, 'profiles.x.value', deps(env), 'x')
        assert.deepEqual({ value }, { value: expected.value }, `${text}: resolved although ${JSON.stringify(expected)}`)
      } catch (error) {
        assert.ok(error instanceof CcredError, `threw ${String(error)}`)
        assert.ok(error.code in ERROR_EXIT_CODES)
        assert.deepEqual({ code: error.code, hint: error.hint }, { code: expected.code, hint: expected.hint }, `${text}: ${error.message}`)
      }
    }), { numRuns: 500 })
  })
})

describe('hostile claim templates', () => {
  const claimArb: fc.Arbitrary<ClaimTemplate> = fc.letrec<{ claim: ClaimTemplate }>((tie) => ({
    claim: fc.oneof({ depthSize: 'small' },
      fc.string({ maxLength: 20 }),
      fc.array(fc.constantFrom('${USER}', '${HOSTNAME}', '${env:SET}', '${env:UNSET}', '${env:EMPTY}', '${', '}', '$', '${env:}', '${nope}', 'x', '${${USER}}'), { maxLength: 5 }).map((parts) => parts.join('')),
      fc.integer(), fc.boolean(),
      fc.array(tie('claim'), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), tie('claim'), { maxKeys: 3 }),
    ),
  })).claim

  const vars: TemplateVariables = {
    user: () => 'alice',
    hostname: () => 'host',
    env: async (name, where) => {
      const value = ({ SET: 'v' } as Record<string, string>)[name]
      if (value === undefined) throw new CcredError('ERR_REFERENCE', `${where}: environment variable ${name} is not set`, { hint: 'export it' })
      return value
    },
  }

  it('unknown placeholders are problems; a template without problems renders or fails coded, never with an empty variable', async () => {
    await fc.assert(fc.asyncProperty(claimArb, async (claim) => {
      const problems = templateProblems(claim, 'claims.c')
      assert.ok(Array.isArray(problems))
      if (problems.length > 0) return
      const text = JSON.stringify(claim)
      try {
        const rendered = JSON.stringify(await renderClaim(claim, vars, 'claims.c'))
        assert.ok(!rendered.includes('${'), 'a placeholder left unrendered')
        assert.ok(!/UNSET|EMPTY/.test(text), 'a missing variable rendered instead of failing')
      } catch (error) {
        assert.ok(error instanceof CcredError, `threw ${String(error)}`)
        assert.equal(error.code, 'ERR_REFERENCE')
      }
    }), { numRuns: 500 })
  })

  it('placeholderProblems never throws and flags every unknown name', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (text) => {
      const problems = placeholderProblems(text)
      if (/\$\{(?!USER\}|HOSTNAME\}|env:[A-Za-z_][A-Za-z0-9_]*\})/.test(text)) assert.ok(problems.length > 0, `no problem reported for ${text}`)
      for (const problem of problems) assert.ok(problem.length < 200, 'a problem quotes at most a short piece of the template')
    }), { numRuns: 1000 })
  })
})

describe('hostile exec output', () => {
  const options = { argv: ['/bin/helper'], lifetimeMs: 60_000 } as Parameters<typeof parseOutput>[1]
  const nowMs = Date.UTC(2026, 0, 1)
  const outputArb = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes).toString('utf8')),
    fc.record({
      token: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('a\nb'), fc.constant('a\u0000b'), fc.constant(' x '), fc.integer(), fc.constant(null)),
      expires_at: fc.option(fc.oneof(fc.string({ maxLength: 25 }), fc.constant('2027-01-01T00:00:00Z'), fc.constant('+275760-09-13T00:00:00.001Z'), fc.integer()), { nil: undefined }),
      expires_in: fc.option(fc.oneof(fc.double(), fc.constant(1e308), fc.constant(-1), fc.string({ maxLength: 5 })), { nil: undefined }),
    }, { requiredKeys: [] }).map((json) => JSON.stringify(json)),
  )

  it('arbitrary stdout gives a coded error or a credential that passes the header checks', () => {
    fc.assert(fc.property(outputArb, (stdout) => {
      let credential
      try {
        credential = parseOutput(stdout, options, nowMs)
        checkCredential(credential, 'profile x', nowMs)
      } catch (error) {
        assert.ok(error instanceof CcredError, `threw ${String(error)}`)
        assert.equal(error.code, 'ERR_SOURCE_OUTPUT')
        assert.ok(!/[\u0000-\u0008\u000b-\u001f]/.test(error.message), 'a message carries control characters from the output')
        return
      }
      assert.ok(!/[\u0000-\u001f\u007f]/.test(credential.value), 'a credential with a control character')
      assert.ok(credential.expiresAt === undefined || Number.isFinite(credential.expiresAt.getTime()), 'an invalid expiry date')
    }), { numRuns: 1500 })
  })
})

describe('hostile durations and helper TTLs', () => {
  it('parseDurationMs gives undefined or a finite non-negative whole number of ms', () => {
    const durationish = fc.array(fc.tuple(fc.oneof(fc.nat().map(String), fc.constantFrom('1.5', '99999999999999999999999999', '0.0001', '-1', '1e3')), fc.constantFrom('ms', 's', 'm', 'h', 'd', 'x', '')), { maxLength: 4 })
      .map((parts) => parts.map(([n, u]) => n + u).join(''))
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 20 }), durationish), (text) => {
      const ms = parseDurationMs(text)
      if (ms === undefined) return
      assert.ok(Number.isSafeInteger(ms) && ms >= 0, `"${text}" parsed to ${ms}`)
    }), { numRuns: 1000 })
  })

  it('parseHelperTtlMs gives a safe non-negative integer for anything Claude Code may set', () => {
    fc.assert(fc.property(fc.option(fc.oneof(fc.string({ maxLength: 30 }), fc.nat().map(String), fc.constant('9'.repeat(40))), { nil: undefined }), (text) => {
      const ms = parseHelperTtlMs(text)
      assert.ok(Number.isSafeInteger(ms) && ms >= 0, `${String(text)} gave ${ms}`)
    }), { numRuns: 1000 })
  })
})

describe('hostile JWT keys', () => {
  it('loadSigningKey on arbitrary strings and JSON throws only KeyProblem', () => {
    const jwkArb = fc.record({
      kty: fc.oneof(fc.constantFrom('oct', 'EC', 'RSA', 'OKP', ''), fc.integer()),
      k: fc.oneof(fc.string({ maxLength: 80 }), fc.integer()),
      d: fc.oneof(fc.string({ maxLength: 60 }), fc.constant(null)),
      crv: fc.constantFrom('P-256', 'P-384', 'Ed25519', 'X'),
      x: fc.string({ maxLength: 40 }), y: fc.string({ maxLength: 40 }), n: fc.string({ maxLength: 40 }), e: fc.constantFrom('AQAB', ''),
      alg: fc.constantFrom(...JWT_ALGORITHMS, 'none'),
      kid: fc.oneof(fc.string({ maxLength: 5 }), fc.integer()),
    }, { requiredKeys: [] }).map((jwk) => JSON.stringify(jwk))
    const textArb = fc.oneof(
      fc.string({ maxLength: 80 }),
      jwkArb,
      fc.constantFrom('{', '[]', 'null', '{}', '""', '-----BEGIN', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', '-----BEGIN ENCRYPTED PRIVATE KEY-----', '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----'),
      fc.string({ maxLength: 80 }).map((s) => `-----BEGIN EC PRIVATE KEY-----\n${s}\n-----END EC PRIVATE KEY-----`),
    )
    fc.assert(fc.property(textArb, fc.constantFrom(...JWT_ALGORITHMS), (text, alg) => {
      try {
        const key = loadSigningKey(text, alg)
        assert.equal(key.alg, alg)
      } catch (error) {
        assert.ok(error instanceof KeyProblem, `threw ${(error as Error).constructor.name}: ${String(error)}`)
      }
    }), { numRuns: 1500 })
  })
})

describe('hostile Claude Code settings', () => {
  it('readSettings on arbitrary file contents: settings or ERR_CONFIG naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ccred-settings-'))
    const path = join(dir, 'settings.json')
    try {
      const contentArb = fc.oneof(
        fc.string({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)),
        fc.json({ maxDepth: 3 }),
        fc.record({ env: fc.oneof(fc.constant(null), fc.integer(), fc.array(fc.string()), fc.dictionary(fc.string(), fc.string())) }).map((s) => JSON.stringify(s, null, 2)),
        fc.constantFrom('\uFEFF{}', '{"__proto__": {"x": 1}}', '{"env": {"__proto__": null}}'),
      )
      fc.assert(fc.property(contentArb, (content) => {
        writeFileSync(path, content)
        try {
          const file = readSettings({ scope: 'user', path })
          assert.ok(typeof file.settings === 'object' && file.settings !== null && !Array.isArray(file.settings))
          assert.ok(file.settings.env === undefined || (typeof file.settings.env === 'object' && !Array.isArray(file.settings.env)))
        } catch (error) {
          assert.ok(error instanceof CcredError, `threw ${String(error)}`)
          assert.equal(error.code, 'ERR_CONFIG')
          assert.ok(error.message.includes(path))
        }
      }), { numRuns: 500 })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
