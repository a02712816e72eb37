// Claude Code's header hooks: the config's header templates, the header-set output, and
// how Claude Code parses and feeds a headersHelper / otelHeadersHelper (claude-code-auth.md).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { caseClashes, ccredLoginProfileOf, ccredProfileOf, otlpExporterProblems, parseHeadersOutput, projectMcpHelperEnv, strippedForProjectMcp } from '../../src/setup/claude-hooks.js'
import { TableReader } from '../../src/config/fields.js'
import { headerTemplates } from '../../src/config/header-templates.js'
import { referencesIn } from '../../src/profiles/profile-source.js'
import { checkedHeaders, headerSetBody, headersOutput, headerTemplatesOf, renderHeaders } from '../../src/output/headers.js'
import { parseWarmGet } from '../../src/cli/parse-warm-get.js'

function templates(value: unknown): { templates: unknown; problems: string[] } {
  const reader = new TableReader(value === undefined ? {} : { headers: value }, 'profiles.x')
  return { templates: headerTemplates(reader), problems: reader.problems }
}

describe('headers = { … } in a profile', () => {
  it('keeps the names as written and reads ${token}', () => {
    const read = templates({ Authorization: 'Bearer ${token}', 'X-Api-Key': '${token}', 'x-honeycomb-team': 'team' })
    assert.deepEqual(read.problems, [])
    assert.deepEqual(read.templates, { Authorization: 'Bearer ${token}', 'X-Api-Key': '${token}', 'x-honeycomb-team': 'team' })
    assert.equal(templates(undefined).templates, undefined)
  })

  it('says precisely what is wrong, every problem at once, never echoing a long value', () => {
    const { problems } = templates({ 'X Api': '${token}', Host: 'x ${token}', Foo: 3, Bar: '${tok}', Baz: 'a\nb ${token}', authorization: '${token}', Authorization: '${token}' })
    const text = problems.join('\n')
    assert.match(text, /profiles\.x\.headers: header "X Api" is not a header name/)
    assert.match(text, /header "Host" is set by the HTTP client itself/)
    assert.match(text, /header "Foo": expected a string value template, got the number 3/)
    assert.match(text, /header "Bar": unknown placeholder "\$\{tok\}" \(the only one is \$\{token\}/)
    assert.match(text, /header "Baz": the value template holds a control character/)
    assert.match(text, /header "Authorization" and "authorization" differ only in case/)
    assert.match(templates({ A: 'static' }).problems.join(), /no header uses \$\{token\}/)
    assert.match(templates({}).problems.join(), /is empty/)
    assert.match(templates('Bearer ${token}').problems.join(), /expected a table of header names/)
    const long = 'k'.repeat(200)
    assert.ok(!templates({ [long]: '${token}' }).problems.join().includes(long), 'a long name is not quoted back')
  })
})

// Each of these was a surviving mutant of config/header-templates.ts or output/headers.ts (docs/mutation.md).
describe('headers templates and header sets at their edges', () => {
  it('every header the HTTP client owns is refused, whatever its case', () => {
    for (const name of ['Host', 'Content-Length', 'Content-Type', 'Transfer-Encoding', 'Connection', 'Upgrade', 'TE', 'Trailer', 'Keep-Alive', 'Mcp-Session-Id', 'MCP-Protocol-Version']) {
      assert.deepEqual(templates({ [name]: '${token}' }).problems, [`profiles.x.headers: header "${name}" is set by the HTTP client itself; a helper cannot set it`], name)
    }
  })

  it('32 headers are fine, 33 are too many; an empty table is one problem; a blank template is empty', () => {
    const many = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`X-${i}`, '${token}']))
    assert.deepEqual(templates(many(32)).problems, [])
    assert.deepEqual(templates(many(33)).problems, ['profiles.x.headers: has 33 headers, at most 32'])
    assert.deepEqual(templates({}).problems, ['profiles.x.headers: is empty: name at least one header (or leave headers out for Authorization: Bearer <token>)'])
    assert.deepEqual(templates({ A: '${token}', B: '   ' }).problems, ['profiles.x.headers: header "B": the value template is empty (Claude Code would send an empty header)'])
  })

  it("a profile's own templates are used as written, the default only without them; a Basic pair is base64 only in the default", () => {
    const own = { 'X-Auth': 'Basic ${token}' }
    assert.equal(headerTemplatesOf({ headers: own }), own)
    assert.deepEqual(headerTemplatesOf({}, 'Basic'), { Authorization: 'Basic ${token}' })
    assert.deepEqual(renderHeaders({ value: 'u:p', scheme: 'Basic' }, own), { 'X-Auth': 'Basic u:p' })
  })

  it('a refused header set says which header and why, with the same hint; a value that is not a string is empty', () => {
    const hint = "check the profile's headers templates and what its source returns"
    assert.throws(() => checkedHeaders({ 'X A': 'v' }), { code: 'ERR_SOURCE_OUTPUT', message: 'the header set holds an invalid header name', hint })
    assert.throws(() => checkedHeaders({ 'X-Key': 'a\nb' }), { code: 'ERR_SOURCE_OUTPUT', message: "the header set's header X-Key contains a line break", hint })
    assert.throws(() => checkedHeaders({ 'X-Key': 5 as unknown as string }), { code: 'ERR_SOURCE_OUTPUT', message: "the header set's header X-Key is empty", hint })
    assert.throws(() => headerSetBody({ kind: 'aws', accessKeyId: 'A', secretAccessKey: 'S' }, { name: 'cloud' }), { code: 'ERR_USAGE', message: 'profile cloud yields AWS credentials, not headers', hint: 'Claude Code reads them with awsCredentialExport: ccred aws-export cloud' })
  })
})

describe('get --format headers output', () => {
  it('renders the templates, defaults to Authorization with the scheme, one line of JSON', () => {
    assert.deepEqual(renderHeaders({ value: 't0k' }, undefined), { Authorization: 'Bearer t0k' })
    assert.deepEqual(renderHeaders({ value: 'u:p', scheme: 'Basic' }, undefined), { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` })
    assert.deepEqual(renderHeaders({ value: 't0k' }, { 'DD-API-KEY': '${token}', 'X-Both': '${token}/${token}' }), { 'DD-API-KEY': 't0k', 'X-Both': 't0k/t0k' })
    const out = headersOutput({ Authorization: 'Bearer t0k', 'X-Team': 'eng' })
    assert.equal(out, '{"Authorization":"Bearer t0k","X-Team":"eng"}\n')
    assert.equal(out.split('\n').length, 2)
    assert.deepEqual(parseHeadersOutput(out), { headers: { Authorization: 'Bearer t0k', 'X-Team': 'eng' } }, 'Claude Code parses what ccred prints')
  })

  it('refuses a value that would break the header or the JSON line, naming the header only', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\u0000b', 'a\u2028b', 'a\u001bb', 'snow\u2603']) {
      assert.throws(() => headersOutput({ 'X-Key': bad }), (error: Error & { code?: string }) => error.code === 'ERR_SOURCE_OUTPUT' && !error.message.includes(bad) && /X-Key/.test(error.message))
    }
    assert.throws(() => headersOutput({ 'X Key': 'v' }), /invalid header name/)
  })

  it('any source feeds it: a token through the templates, a header set as it is; AWS credentials are refused', () => {
    assert.deepEqual(headerSetBody({ kind: 'token', value: 't' }, { name: 'p', headers: { 'X-Api-Key': '${token}' } }), { kind: 'headers', headers: { 'X-Api-Key': 't' } })
    assert.deepEqual(headerSetBody({ kind: 'headers', headers: { 'DD-API-KEY': 'k' } }, { name: 'p' }), { kind: 'headers', headers: { 'DD-API-KEY': 'k' } })
    assert.throws(() => headerSetBody({ kind: 'aws', accessKeyId: 'A', secretAccessKey: 'S' }, { name: 'p' }), (error: Error & { code?: string; hint?: string }) => error.code === 'ERR_USAGE' && /aws-export p/.test(error.hint ?? ''))
    assert.throws(() => headerSetBody({ kind: 'headers', headers: { 'X-Key': 'a\nb' } }, { name: 'p' }), /line break/)
  })

  it('is part of the warm get command line', () => {
    assert.deepEqual(parseWarmGet(['p', '--format', 'headers']), { profile: 'p', options: { format: 'headers' } })
    assert.deepEqual(parseWarmGet(['p', '--format=headers']), { profile: 'p', options: { format: 'headers' } })
  })
})

describe('how Claude Code parses a header helper\'s output', () => {
  it('accepts one JSON object of strings (trailing newline fine) and rejects everything else as a whole', () => {
    assert.deepEqual(parseHeadersOutput('{"A": "1"}\n'), { headers: { A: '1' } })
    for (const [output, problem] of [
      ['', /empty/], ['ok {"A":"1"}', /not one JSON object/], ['{"A":"1"}\nmore', /not one JSON object/],
      ['["A"]', /an array/], ['{"A": 1}', /"A" is a number/], ['{"A": null}', /"A" is a null/], ['"x"', /a string, not/],
    ] as const) {
      const parsed = parseHeadersOutput(output)
      assert.ok('problem' in parsed && problem.test(parsed.problem), `${JSON.stringify(output)}: ${JSON.stringify(parsed)}`)
    }
  })
})

describe('the environment of a project .mcp.json helper', () => {
  it('loses credential-looking variables and keeps HOME, PATH, XDG_* and VAULT_ADDR', () => {
    for (const name of ['GITHUB_TOKEN', 'CCRED_PROBE_TOKEN', 'SERVICE_SECRET', 'DB_PASSWORD', 'GH_PAT', 'GOOGLE_APPLICATION_KEY_FILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'SSH_AUTH_SOCK', 'ANTHROPIC_API_KEY']) {
      assert.equal(strippedForProjectMcp(name), true, name)
    }
    for (const name of ['HOME', 'PATH', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'VAULT_ADDR', 'CCRED_RUNTIME_DIR', 'USER', 'CLAUDE_CODE_MCP_SERVER_NAME', 'AI_AGENT', 'TOKENIZERS_PARALLELISM']) {
      assert.equal(strippedForProjectMcp(name), false, name)
    }
    assert.deepEqual(projectMcpHelperEnv({ HOME: '/h', MY_TOKEN: 'x' }), { HOME: '/h' })
  })

  it('finds the references in options of a source that declares none', () => {
    const found = referencesIn({ value: { kind: 'env', target: 'MY_TOKEN' }, auth: { secret: { kind: 'keychain', target: 'k' }, id: { kind: 'env', target: 'ROLE_ID' } }, credential: { kind: 'token', target: 'not a reference' } })
    assert.deepEqual(found.map((ref) => `${ref.kind}:${ref.target}`).sort(), ['env:MY_TOKEN', 'env:ROLE_ID', 'keychain:k'])
  })
})

describe('hook settings', () => {
  it('header names that differ from a static header only in case', () => {
    assert.deepEqual(caseClashes(['Authorization', 'X-Api-Key'], { authorization: 's', 'X-Api-Key': 's', Other: 'o' }), [{ helper: 'Authorization', static: 'authorization' }])
  })

  it('the OTLP exporter settings otelHeadersHelper needs', () => {
    const env = { CLAUDE_CODE_ENABLE_TELEMETRY: '1', OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' } as Record<string, string | undefined>
    assert.deepEqual(otlpExporterProblems((name) => env[name]), [])
    assert.match(otlpExporterProblems((name) => ({ ...env, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })[name]).join(), /grpc: otelHeadersHelper runs only for http/)
    assert.match(otlpExporterProblems((name) => ({ ...env, OTEL_EXPORTER_OTLP_ENDPOINT: undefined })[name]).join(), /no OTEL_EXPORTER_OTLP_ENDPOINT/)
    assert.equal(otlpExporterProblems(() => undefined).length, 4)
  })

  it('the ccred profile a helper command runs', () => {
    assert.equal(ccredProfileOf(`'/usr/bin/node' '/opt/ccred/dist/cmd/ccred.cjs' get mcp-corp --format headers`), 'mcp-corp')
    assert.equal(ccredProfileOf('ccred get otel --format headers'), 'otel')
    assert.equal(ccredProfileOf('/usr/local/bin/get-headers.sh'), undefined)
    assert.equal(ccredLoginProfileOf(`'/usr/bin/node' '/opt/ccred/dist/cmd/ccred.cjs' login corp-sso`), 'corp-sso')
  })
})
