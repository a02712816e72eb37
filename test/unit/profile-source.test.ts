// A profile's source bound once to its options (ProfileSource), and shared resources (Vault's
// connections) behind one general hook: a test-only resource kind works without touching load.ts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigSnapshot } from '../../src/service/config-snapshot.js'
import { ProfileRuntime } from '../../src/service/profile-runtime.js'
import { FakeClock } from '../../src/clock.js'
import { table, durationMs, type Infer } from '../../src/config/schema.js'
import type { SharedResource } from '../../src/config/shared-resources.js'
import { BUILT_IN_CATALOG, parseConfig, type LoadedConfig, type SourceCatalog } from '../../src/profiles/load.js'
import { bindSource, type ProfileSource } from '../../src/profiles/profile-source.js'
import { loadSourceDefinition, SOURCE_KINDS } from '../../src/sources/registry.js'
import type { FetchContext, SourceDefinition, SourceDeps } from '../../src/sources/source.js'
import { jwtSource, type JwtOptions } from '../../src/sources/jwt.js'
import { MemoryStore } from '../../src/store/memory.js'
import { vaultResource } from '../../src/vault/shared.js'

const meta = { path: 'config.toml', fromFile: true, stamp: '1' }

/** One valid profile per built-in source kind. */
const PROFILE_PER_KIND: Record<string, string> = {
  static: 'value = "env:STATIC_KEY"',
  exec: 'command = ["printf", "x"]',
  demo: '',
  jwt: '[profiles.jwt.jwt]\nalgorithm = "HS256"\nkey = "keychain:jwt-key"',
  gcp: '',
  aws: '',
  vault: '[profiles.vault.vault]\npath = "secret/x"\nfield = "k"\nauth = { method = "token", token = "keychain:vault-token" }',
  oidc: '[profiles.oidc.oidc]\nissuer = "https://login.example.com"',
}

/** Each ProfileSource method with the definition hook it must reach. */
const CALLS: Record<string, (source: ProfileSource, config: LoadedConfig) => unknown> = {
  create: (source) => source.create(inertDeps),
  references: (source) => source.references(),
  sharedUses: (source, config) => source.sharedUses(config.shared),
  doctorChecks: (source) => source.doctorChecks(inertDeps),
  loginTarget: (source) => source.loginTarget(),
  publishedKeys: (source) => source.publishedKeys({} as FetchContext),
  yieldsAwsCredentials: (source) => source.yieldsAwsCredentials(),
  storedSecretName: (source) => source.storedSecretName(),
  validateStoredSecret: (source) => source.validateStoredSecret('x'),
}

const inertDeps: SourceDeps = { store: () => new MemoryStore(), shared: () => Promise.reject(new Error('not in this test')) }

describe('ProfileSource: a source bound once to its options', () => {
  it('every hook of every registered source definition is reached through the profile, with the options it parsed', async () => {
    const config = await parseConfig(Object.entries(PROFILE_PER_KIND).map(([kind, body]) => `[profiles.${kind}]\nsource = "${kind}"\n${body}\n`).join('\n'), 'config.toml', meta)
    assert.deepEqual([...config.invalidProfiles.values()].map((e) => e.message), [])
    assert.deepEqual(Object.keys(PROFILE_PER_KIND).sort(), [...SOURCE_KINDS].sort(), 'a profile for every registered kind')
    for (const kind of SOURCE_KINDS) {
      const definition = (await loadSourceDefinition(kind))!
      const options = config.profiles.get(kind)!.source.options
      const hooks = Object.keys(definition).filter((key) => typeof (definition as unknown as Record<string, unknown>)[key] === 'function' && key !== 'parse')
      for (const hook of hooks) assert.ok(hook in CALLS, `${kind}.${hook}: a hook ProfileSource does not offer`)
      // A spy of the definition: each hook records the options it got and returns a marker.
      const reached: Array<[string, unknown]> = []
      const spy = Object.fromEntries(Object.entries(definition).map(([key, value]) =>
        [key, typeof value === 'function' && key !== 'parse' ? (received: unknown) => { reached.push([key, received]); return key === 'references' || key === 'sharedUses' ? [] : undefined } : value]))
      const bound = bindSource(spy as unknown as SourceDefinition<unknown>, options)
      for (const call of Object.values(CALLS)) await call(bound, config)
      assert.deepEqual([...new Set(reached.map(([hook]) => hook))].sort(), [...hooks].sort(), `${kind}: every hook reached`)
      for (const [hook, received] of reached) assert.equal(received, options, `${kind}.${hook} got the profile's own options`)
      assert.equal(bound.kind, kind)
    }
  })

  it('keeps the options type: a jwt profile source offers its JwtOptions', async () => {
    const config = await parseConfig('[profiles.gw]\nsource = "jwt"\n[profiles.gw.jwt]\nalgorithm = "HS256"\nkey = "keychain:k"\nlifetime = "5m"\n', 'config.toml', meta)
    const options = config.profiles.get('gw')!.source.options as JwtOptions
    const bound: ProfileSource<JwtOptions> = bindSource(jwtSource, options)
    assert.equal(bound.options.lifetimeMs, 300_000)
    assert.equal(bound.storedSecretName(), 'k')
    assert.deepEqual(bound.validateStoredSecret('short'), { problem: bound.validateStoredSecret('short')!.problem })
    assert.match(bound.validateStoredSecret('short')!.problem ?? '', /key/)
  })

  it('defaults where a source has no hook: no sign-in, no keys, no checks, not AWS, no own secret rule', async () => {
    const config = await parseConfig('[profiles.d]\nsource = "demo"\n', 'config.toml', meta)
    const source = config.profiles.get('d')!.source
    assert.equal(source.loginTarget(), undefined)
    assert.equal(source.publishedKeys({} as FetchContext), undefined)
    assert.deepEqual(await source.doctorChecks(inertDeps), [])
    assert.equal(source.yieldsAwsCredentials(), false)
    assert.equal(source.validateStoredSecret('x'), undefined)
  })
})

// A shared resource only this test knows: a counter every profile of the service shares.
const counterSettings = table({ stepMs: durationMs('step', { fallbackMs: 1000 }) }, { closed: true })
type CounterSettings = Infer<typeof counterSettings>
interface Counter { opened: number; next(): number; retained: CounterSettings[][]; closed: boolean }
let opens = 0
const counterResource: SharedResource<CounterSettings, Counter> = {
  table: 'counter',
  settings: counterSettings,
  defaults: () => ({ stepMs: 1000 }),
  async open() {
    let value = 0
    return { opened: ++opens, next: () => ++value, retained: [], closed: false }
  },
  retain(counter, live) {
    counter.retained.push(live)
  },
  close(counter) {
    counter.closed = true
  },
}
const countedSource: SourceDefinition<{ step: CounterSettings }> = {
  kind: 'counted',
  summary: 'test only: a number from the shared counter',
  parse: (_reader, shared) => ({ step: shared.settings(counterResource) }),
  sharedUses: (options) => [{ resource: counterResource, settings: options.step }],
  create: (options, deps) => ({
    fetch: async () => ({ kind: 'token', value: `n${(await deps.shared(counterResource)).next()}-${options.step.stepMs}` }),
  }),
}
const catalog: SourceCatalog = {
  kinds: [...BUILT_IN_CATALOG.kinds, 'counted'],
  definition: async (kind) => (kind === 'counted' ? countedSource : BUILT_IN_CATALOG.definition(kind)),
  resources: [...BUILT_IN_CATALOG.resources, counterResource],
}

describe('shared resources: a general hook (a test-only kind beside Vault)', () => {
  const profiles = '[profiles.a]\nsource = "counted"\n\n[profiles.b]\nsource = "counted"\n\n[profiles.s]\nsource = "static"\nvalue = "env:K"\n'

  it('reads the resource\'s own table, with its problems, and re-keys only the profiles that use it', async () => {
    const plain = await parseConfig(profiles, 'config.toml', meta, catalog)
    assert.deepEqual(plain.shared.of(counterResource), { stepMs: 1000 })
    const edited = await parseConfig(`[counter]\nstep = "5s"\n\n${profiles}`, 'config.toml', meta, catalog)
    assert.deepEqual(edited.shared.of(counterResource), { stepMs: 5000 })
    assert.notEqual(edited.profiles.get('a')!.hash, plain.profiles.get('a')!.hash, '[counter] edit: a new cache key for a user')
    assert.equal(edited.profiles.get('s')!.hash, plain.profiles.get('s')!.hash, 'a profile that does not use it keeps its key')
    const vaultEdited = await parseConfig(`[counter]\nstep = "5s"\n[vault]\ntimeout = "3s"\n\n${profiles}`, 'config.toml', meta, catalog)
    assert.equal(vaultEdited.profiles.get('a')!.hash, edited.profiles.get('a')!.hash, 'a [vault] edit does not re-key a counter user')
    await assert.rejects(parseConfig(`[counter]\nstep = "soon"\nstpe = 1\n\n${profiles}`, 'config.toml', meta, catalog),
      /counter\.step: "soon" is not a duration.*counter\.stpe: unknown key/)
    await assert.rejects(parseConfig(`[counter]\nstep = "5s"\n\n${profiles}`, 'config.toml', meta),
      /counter: unknown top-level key \(expected \[broker\], \[vault\] or \[profiles\.NAME\]\)/, 'the built-in catalog does not know it')
  })

  it('the runtime opens it once for every profile, hands it to sources as deps.shared, retains what a new config uses, and closes it', async () => {
    const clock = new FakeClock(Date.UTC(2026, 11, 1))
    const runtime = new ProfileRuntime({ env: {}, clock, config: new ConfigSnapshot({ path: '/nonexistent/ccred.toml', explicit: true }), store: new MemoryStore() })
    const first = await parseConfig(`[counter]\nstep = "2s"\n\n${profiles}`, 'config.toml', meta, catalog)
    runtime.configLoaded(first, undefined)
    const fetchOf = async (config: LoadedConfig, name: string) => {
      const profile = runtime.brokerProfile(config.profiles.get(name)!)
      const credential = await profile.source.fetch(profile.context)
      return credential.kind === 'token' ? credential.value : ''
    }
    assert.equal(await fetchOf(first, 'a'), 'n1-2000')
    assert.equal(await fetchOf(first, 'b'), 'n2-2000', 'the same counter: opened once for both profiles')
    const counter = await runtime.shared(counterResource)
    assert.equal(counter.opened, opens)

    const second = await parseConfig(`[counter]\nstep = "3s"\n\n${profiles}`, 'config.toml', meta, catalog)
    runtime.configLoaded(second, first)
    await runtime.shared(counterResource)
    assert.deepEqual(counter.retained.at(-1), [{ stepMs: 3000 }, { stepMs: 3000 }, { stepMs: 3000 }], 'the table and each user\'s settings')
    assert.equal(await fetchOf(second, 'a'), 'n3-3000', 'the edited profile is rebuilt with the new settings, on the same counter')
    await runtime.close()
    assert.equal(counter.closed, true)
  })

  it('Vault is a user of the same hook: a vault: reference in exec env makes [vault] part of the key', async () => {
    const exec = '[profiles.e]\nsource = "exec"\ncommand = ["printf", "x"]\nenv = { TOKEN = "vault:secret/app#token" }\n'
    const without = await parseConfig(exec, 'config.toml', meta)
    const withVault = await parseConfig(`[vault]\ntimeout = "3s"\n\n${exec}`, 'config.toml', meta)
    assert.deepEqual(withVault.profiles.get('e')!.source.sharedUses(withVault.shared).map((use) => use.resource), [vaultResource])
    assert.notEqual(withVault.profiles.get('e')!.hash, without.profiles.get('e')!.hash)
  })
})
