import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { EXIT_CODES } from '../../src/errors.js'
import { Sandbox } from '../helpers/sandbox.js'

const sandboxes: Sandbox[] = []
after(async () => { for (const box of sandboxes) await box.cleanup() })

function sandbox(config: string): Sandbox {
  const box = new Sandbox({ CCRED_NO_DAEMON: '1' })
  sandboxes.push(box)
  box.writeConfig(config)
  return box
}

describe('errors that help', () => {
  it('a mistyped profile gets "did you mean", and the profile list once', async () => {
    const box = sandbox('[profiles.demo]\nsource = "demo"\n[profiles.litellm-jwt]\nsource = "demo"\n')
    const got = await box.run(['get', 'litelm-jwt'])
    assert.equal(got.code, EXIT_CODES.ERR_PROFILE_UNKNOWN)
    assert.equal(got.stdout, '')
    assert.equal(got.stderr,
      `ccred: no profile named "litelm-jwt" in ${box.configPath}; did you mean "litellm-jwt"? [ERR_PROFILE_UNKNOWN] — profiles in the config: demo, litellm-jwt; or add [profiles.litelm-jwt] to ${box.configPath}\n`)
    assert.equal(got.stderr.split('demo, litellm-jwt').length - 1, 1, 'the list appears once')
  })

  it('a name far from every profile gets no guess', async () => {
    const box = sandbox('[profiles.demo]\nsource = "demo"\n')
    const got = await box.run(['get', 'corp-sso'])
    assert.equal(got.code, EXIT_CODES.ERR_PROFILE_UNKNOWN)
    assert.doesNotMatch(got.stderr, /did you mean/)
  })

  it('an unclosed TOML string is reported as one, with its line', async () => {
    const box = sandbox('[profiles.demo]\nsource = "demo"\n\n[profiles.x]\nsource = "static\nvalue = "env:X"\n')
    const got = await box.run(['get', 'demo'])
    assert.equal(got.code, EXIT_CODES.ERR_CONFIG)
    assert.match(got.stderr, new RegExp(`^ccred: ${box.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+: invalid TOML: a string is not closed on this line .*\\[ERR_CONFIG\\] — fix line 5 of `))
    assert.doesNotMatch(got.stderr, /control characters/)
  })

  it('commands and options get commander\'s suggestion with a code', async () => {
    const box = sandbox('[profiles.demo]\nsource = "demo"\n')
    const command = await box.run(['stauts'])
    assert.equal(command.code, EXIT_CODES.ERR_USAGE)
    assert.equal(command.stderr, 'ccred: unknown command \'stauts\' (Did you mean status?) [ERR_USAGE] — see: ccred --help\n')
    const option = await box.run(['get', '--refesh', 'demo'])
    assert.equal(option.stderr, 'ccred: unknown option \'--refesh\' (Did you mean --refresh?) [ERR_USAGE] — see: ccred get --help\n')
  })
})

describe('status fits the terminal', () => {
  const config = '[profiles.demo]\nsource = "demo"\n[profiles.a-rather-long-profile-name-for-a-gateway]\nsource = "demo"\n'

  it('the default table fits 80 columns; --wide and --json keep every column', async () => {
    const box = sandbox(config)
    await box.run(['get', 'demo'])
    const narrow = await box.run(['status'], { env: { COLUMNS: '80' } })
    assert.equal(narrow.code, EXIT_CODES.OK, narrow.stderr)
    const table = narrow.stdout.slice(narrow.stdout.indexOf('PROFILE'))
    for (const line of table.split('\n')) assert.ok(line.length <= 80, `${line.length} columns: ${line}`)
    assert.match(table, /^PROFILE +SOURCE +CACHED +EXPIRES +LAST ERROR/)
    assert.doesNotMatch(table, /BUDGET|SAFE TTL/)
    assert.match(table, /\(more columns: ccred status --wide, or --json\)/)
    const wide = await box.run(['status', '--wide'], { env: { COLUMNS: '80' } })
    assert.match(wide.stdout, /^PROFILE +SOURCE +HEADER +CACHED +EXPIRES +LAST ERROR +LAST REFRESH +NEXT REFRESH +SAFE TTL +BUDGET +HITS +FETCHES$/m)
    const json = JSON.parse((await box.run(['status', '--json'])).stdout) as { profiles: { budget?: unknown; hits: number }[] }
    assert.equal(json.profiles.length, 2)
    assert.ok(json.profiles.every((p) => typeof p.hits === 'number'))
  })

  it('a very narrow terminal drops optional columns but never the name, state or error', async () => {
    const box = sandbox(config)
    const narrow = await box.run(['status'], { env: { COLUMNS: '40' } })
    const header = narrow.stdout.split('\n').find((line) => line.startsWith('PROFILE'))!
    assert.match(header, /^PROFILE +SOURCE +CACHED +EXPIRES +LAST ERROR$/)
  })
})
