// The schema layer under the source parsers: a table with problems yields its
// problems and no options object; a table without problems yields the options.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { TableReader } from '../../src/config/fields.js'
import type { SharedResource } from '../../src/config/shared-resources.js'
import { INVALID, ProblemsRecorded, durationMs, map, nested, oneOf, parseWith, reference, string, table } from '../../src/config/schema.js'
import { loadSourceDefinition, SOURCE_KINDS } from '../../src/sources/registry.js'

const shared = { settings: <S>(resource: SharedResource<S, any>) => resource.defaults() }

/** What a source's parse made of a table: its options, or the problems it recorded (never both). */
async function parseProfile(kind: string, body: Record<string, unknown>): Promise<{ options?: unknown; problems: string[] }> {
  const definition = (await loadSourceDefinition(kind))!
  const reader = new TableReader({ source: kind, ...body }, 'profiles.p')
  reader.allow('source')
  try {
    const options = definition.parse(reader, shared)
    return { options, problems: reader.problems }
  } catch (error) {
    assert.ok(error instanceof ProblemsRecorded, `${kind}: parse throws only ProblemsRecorded, got ${String(error)}`)
    assert.ok(reader.problems.length > 0, `${kind}: ProblemsRecorded with no problem recorded`)
    return { problems: reader.problems }
  }
}

describe('config schema', () => {
  it('a table reads into a typed value; a bad one is INVALID with every problem, in key order', () => {
    const field = map(
      table({ name: string('name', { required: true }), mode: oneOf('mode', ['a', 'b'], 'a'), waitMs: durationMs('wait', { fallbackMs: 5_000 }) }, { closed: true }),
      (value) => ({ ...value, label: `${value.name}/${value.mode}` }),
    )
    const good = field(new TableReader({ name: 'x', wait: '2s' }, 't'))
    assert.deepEqual(good, { name: 'x', mode: 'a', waitMs: 2_000, label: 'x/a' })

    const reader = new TableReader({ mode: 'c', wait: 'soon', extra: 1 }, 't')
    assert.equal(field(reader), INVALID)
    assert.deepEqual(reader.problems, [
      't.name: is required',
      't.mode: expected one of "a", "b", got "c"',
      't.wait: "soon" is not a duration; write it like "90s", "5m", "1h" or "1h30m"',
      't.extra: unknown key (known keys here: mode, name, wait)',
    ])
  })

  it('checks see every field, an invalid one included, so cross-key problems are reported with the rest', () => {
    const field = table(
      { a: string('a'), b: reference('b') },
      { checks: (value, reader) => { if (value.a === undefined) reader.problem('a', 'is needed with b') } },
    )
    const reader = new TableReader({ b: 'sk-a-literal-secret-value-that-is-long' }, 't')
    assert.equal(field(reader), INVALID)
    assert.equal(reader.problems.length, 2)
    assert.match(reader.problems[0]!, /^t\.b: expected a reference/)
    assert.equal(reader.problems[1], 't.a: is needed with b')
    assert.ok(!reader.problems.join().includes('sk-a-literal'), 'no secret echoed')
  })

  it('a required nested table that is missing still reports what it needs inside', () => {
    const reader = new TableReader({}, 'profiles.p')
    assert.throws(() => parseWith(nested('jwt', table({ key: reference('key', { required: true }) }), { required: true }), reader), ProblemsRecorded)
    assert.deepEqual(reader.problems, [
      'profiles.p.jwt: is required (a [profiles.p.jwt] table)',
      'profiles.p.jwt.key: is required (a reference such as "env:NAME", "file:PATH" or "keychain:NAME")',
    ])
  })

  it('no source makes up a value for a bad table: its parse records problems and returns nothing', async () => {
    // One table that is wrong for every source: a literal secret, a non-argv command, a bad duration, non-tables.
    const hostile = { value: 'sk-not-a-reference', command: 5, lifetime: 'soon', jwt: 5, gcp: 5, aws: 5, vault: 5, oidc: 5 }
    for (const kind of SOURCE_KINDS) {
      const { options, problems } = await parseProfile(kind, hostile)
      assert.equal(options, undefined, `${kind}: no options object for an invalid table`)
      assert.ok(problems.length > 0, kind)
    }
  })

  it('the bad keys a parse used to paper over are problems, not placeholders', async () => {
    assert.deepEqual(await parseProfile('static', {}), { problems: ['profiles.p.value: is required (a reference such as "env:NAME", "file:PATH" or "keychain:NAME")'] })
    const oidc = await parseProfile('oidc', { oidc: { client_id: 'c' } })
    assert.equal(oidc.options, undefined)
    assert.deepEqual(oidc.problems, ['profiles.p.oidc.issuer: is required'])
    const vault = await parseProfile('vault', { vault: { path: 'secret/x', field: 'k', auth: { method: 'approle' } } })
    assert.equal(vault.options, undefined)
    assert.deepEqual(vault.problems, ['profiles.p.vault.auth.role_id: is required (a reference such as "env:NAME", "file:PATH" or "keychain:NAME")'])
  })

  it('property: for any table, a parse gives options exactly when it records no problem', async () => {
    const value = fc.oneof(
      fc.constantFrom('env:A_KEY', 'file:/k', 'keychain:k', 'https://idp.example', '5m', 'bearer', 'id_token', 'approle', 'github-actions'),
      fc.string({ maxLength: 12 }),
      fc.integer({ min: -1, max: 70_000 }),
      fc.boolean(),
      fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
    )
    const keys = ['value', 'scheme', 'command', 'shell', 'lifetime', 'timeout', 'token', 'audience', 'issuer', 'client_id', 'path', 'field', 'key', 'algorithm', 'method', 'role', 'region']
    const body = fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 6 })
    const profileBody = fc.record({ top: body, inner: body }).map(({ top, inner }) => ({ ...top, jwt: inner, gcp: inner, aws: inner, vault: { ...inner, auth: inner }, oidc: inner }))
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SOURCE_KINDS), profileBody, async (kind, table) => {
        const { options, problems } = await parseProfile(kind, table)
        assert.equal(options === undefined, problems.length > 0, `${kind}: ${problems.join('; ')}`)
      }),
      { numRuns: 300 },
    )
  })
})
