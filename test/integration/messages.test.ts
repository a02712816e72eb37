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
