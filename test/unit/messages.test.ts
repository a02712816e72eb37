import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parse, TomlError } from 'smol-toml'
import { tomlFailureReason } from '../../src/config/toml-error.js'
import { warningLine } from '../../src/errors.js'
import { closestName, editDistance } from '../../src/text/did-you-mean.js'

describe('did you mean', () => {
  it('counts a swapped pair of letters as one edit, as a typist makes it', () => {
    assert.equal(editDistance('stauts', 'status'), 1)
    assert.equal(editDistance('litelm', 'litellm'), 1)
    assert.equal(editDistance('abc', 'abc'), 0)
    assert.equal(editDistance('', 'abc'), 3)
    assert.equal(editDistance('kitten', 'sitting'), 3)
  })

  it('deleting every letter costs one edit each; a swap needs both letters to match crosswise', () => {
    assert.equal(editDistance('abc', ''), 3)
    for (const other of ['xy', 'xa', 'bx']) assert.equal(editDistance('ab', other), 2, other)
  })

  it('picks the closest candidate, the first of equals, and allows one edit in a short name', () => {
    assert.equal(closestName('stauts', ['status', 'statues']), 'status')
    assert.equal(closestName('stauts', ['statues', 'status']), 'status')
    assert.equal(closestName('abcx', ['abcd', 'abce']), 'abcd')
    assert.equal(closestName('ab', ['ac']), 'ac')
  })

  it('suggests the nearest plausible name, case-insensitively, and nothing for a stranger', () => {
    const profiles = ['demo', 'litellm', 'litellm-jwt', 'vault-key']
    assert.equal(closestName('demoo', profiles), 'demo')
    assert.equal(closestName('LiteLLM-JWT', profiles), 'litellm-jwt')
    assert.equal(closestName('litelm', profiles), 'litellm', 'one edit from litellm beats two from litellm-jwt')
    assert.equal(closestName('corp-sso', profiles), undefined)
    assert.equal(closestName('x', profiles), undefined, 'one letter is no evidence')
    assert.equal(closestName('demo', ['demo']), undefined, 'the name itself is not a suggestion')
  })
})

describe('TOML failures in the user\'s terms', () => {
  const failure = (text: string): { reason: string; line: number } => {
    try {
      parse(text)
    } catch (error) {
      assert.ok(error instanceof TomlError)
      return { reason: tomlFailureReason(error.message, text, error.line), line: error.line }
    }
    assert.fail('the document parsed')
  }

  it('an unclosed "…" or \'…\' string says so, on the line it starts', () => {
    for (const text of ['[profiles.x]\nsource = "static\nvalue = "a"\n', "[profiles.x]\nsource = 'static\n"]) {
      const { reason, line } = failure(text)
      assert.equal(line, 2)
      assert.match(reason, /^a string is not closed on this line/)
      assert.doesNotMatch(reason, /control character/)
    }
  })

  it('a real control character inside a closed string keeps the parser\'s reason', () => {
    const { reason } = failure('value = "a\u0001b"\n')
    assert.match(reason, /control character/)
  })

  it('quotes after an escaped quote or inside a comment do not count as open', () => {
    assert.match(failure('a = "x\\"y"\nb = = 1\n').reason, /^(?!a string is not closed)/)
    assert.match(failure('a = 1 # it\'s "open\nb = = 1\n').reason, /^(?!a string is not closed)/)
  })
})

describe('warning lines', () => {
  it('carry a stable code and the hint after it, like an error line', () => {
    assert.equal(warningLine('WARN_DAEMON_FALLBACK', 'the daemon is unavailable (x); fetching in this process', 'run: ccred daemon run'),
      'ccred: warning: the daemon is unavailable (x); fetching in this process [WARN_DAEMON_FALLBACK] — run: ccred daemon run')
    assert.equal(warningLine('WARN_CACHE_NOT_DROPPED', 'm'), 'ccred: warning: m [WARN_CACHE_NOT_DROPPED]')
  })
})
