/**
 * The header grammar (src/text/header-grammar.ts) and its three readers: the config's
 * header templates, the broker's check of every credential, and `get --format headers`.
 * Node's own http.validateHeaderName / validateHeaderValue must accept everything the
 * grammar accepts (Claude Code sends the headers with Node).
 */
import assert from 'node:assert/strict'
import { validateHeaderName, validateHeaderValue } from 'node:http'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { checkCredential } from '../../src/broker/validate.js'
import { TableReader } from '../../src/config/fields.js'
import { readHeaderTemplates } from '../../src/config/header-templates.js'
import { CcredError } from '../../src/errors.js'
import { checkedHeaders, renderHeaders } from '../../src/output/headers.js'
import { headerTemplateFault, headerValueFault, isHeaderName, isHeaderValue, MAX_HEADER_NAME_CHARS, renderHeaderTemplate, unknownPlaceholder } from '../../src/text/header-grammar.js'

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
/** Characters at the edges of the grammar, mixed into arbitrary text. */
const EDGES = [' ', '\t', '\r', '\n', '\0', '\x01', '\x7f', '\x80', '\x9b', '\xa0', 'é', '\xff', 'Ā', '\u2028', '😀', ':', '"', '(', ')', ',', '/', ';', '=', '@', '[', ']', '{', '}', '$']
const text = fc.array(fc.oneof(fc.constantFrom(...EDGES), fc.constantFrom(...TCHARS.split('')), fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 16 }).map((parts) => parts.join(''))
/** Values the grammar is likely to accept, so the properties are not all about refusals. */
const visibleAscii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 40 })
const value = fc.oneof(text, visibleAscii)
const name = fc.oneof(text, fc.string({ unit: fc.constantFrom(...TCHARS.split('')), minLength: 1, maxLength: 140 }))

const nodeAcceptsName = (candidate: string) => { try { validateHeaderName(candidate); return true } catch { return false } }
const nodeAcceptsValue = (candidate: string) => { try { validateHeaderValue('x-test', candidate); return true } catch { return false } }

describe('the header grammar (text/header-grammar.ts)', () => {
  it("every name it accepts, Node's validateHeaderName accepts", () => {
    let accepted = 0
    fc.assert(fc.property(name, (candidate) => {
      if (!isHeaderName(candidate)) return
      accepted++
      assert.ok(nodeAcceptsName(candidate), JSON.stringify(candidate))
    }), { numRuns: 2000 })
    assert.ok(accepted > 200, `only ${accepted} names accepted: the property proved little`)
  })

  it("every value it accepts, Node's validateHeaderValue accepts", () => {
    let accepted = 0
    fc.assert(fc.property(value, (candidate) => {
      if (!isHeaderValue(candidate)) return
      accepted++
      assert.ok(nodeAcceptsValue(candidate), JSON.stringify(candidate))
    }), { numRuns: 2000 })
    assert.ok(accepted > 200, `only ${accepted} values accepted: the property proved little`)
  })

  it('a template it accepts gives, for every credential it accepts, a header value', () => {
    const template = fc.tuple(value, value).map(([before, after]) => `${before}\${token}${after}`)
    fc.assert(fc.property(template, visibleAscii, (candidate, credential) => {
      if (headerTemplateFault(candidate) !== undefined || unknownPlaceholder(candidate) !== undefined || !isHeaderValue(credential)) return
      const rendered = renderHeaderTemplate(candidate, credential)
      assert.ok(isHeaderValue(rendered) && nodeAcceptsValue(rendered), JSON.stringify(rendered))
    }), { numRuns: 1000 })
  })

  it('names: RFC 9110 tokens of 1 to 128 characters', () => {
    for (const good of ['Authorization', 'X-Api-Key', 'DD-API-KEY', "a!#$%&'*+-.^_`|~1", 'k'.repeat(MAX_HEADER_NAME_CHARS)]) assert.ok(isHeaderName(good), good)
    for (const bad of ['', 'X Key', 'X:Key', 'X-Kéy', 'a(b)', 'k'.repeat(MAX_HEADER_NAME_CHARS + 1), 'a\nb']) assert.ok(!isHeaderName(bad), JSON.stringify(bad))
  })

  it('values: visible ASCII and inner spaces; not empty, no line break, control (tab, C1) or non-ASCII, no surrounding space', () => {
    for (const good of ['Bearer abc.def', 'a b', '~!@#$%^&*()_+{}|:"<>?', 'x']) assert.equal(headerValueFault(good), undefined, good)
    const faults: [string, string][] = [['', 'empty'], ['a\nb', 'line-break'], ['a\rb', 'line-break'], ['a\0b', 'control'], ['a\tb', 'control'], ['a\x7fb', 'control'], ['a\x9bb', 'control'],
      ['tøken', 'not-ascii'], ['\xa0x', 'not-ascii'], ['snow\u2603', 'not-ascii'], [' x', 'surrounding-space'], ['x ', 'surrounding-space']]
    for (const [bad, fault] of faults) assert.equal(headerValueFault(bad), fault, JSON.stringify(bad))
    // Encoded before it becomes a header (Basic's user:password): other characters may be there, still one line.
    assert.equal(headerValueFault('ann:pässwörd', { encoded: true }), undefined)
    assert.equal(headerValueFault('ann:p\nw', { encoded: true }), 'line-break')
  })
})

describe('the three readers apply the one grammar', () => {
  const tokenRefused = (candidate: string) => {
    try {
      checkCredential({ kind: 'token', value: candidate }, 'profile p', 0)
      return false
    } catch (error) {
      assert.ok(error instanceof CcredError && error.code === 'ERR_SOURCE_OUTPUT', String(error))
      return true
    }
  }
  const headerSetRefused = (headers: Record<string, string>) => {
    try {
      checkedHeaders(headers)
      return false
    } catch (error) {
      assert.ok(error instanceof CcredError && error.code === 'ERR_SOURCE_OUTPUT', String(error))
      return true
    }
  }
  const templateProblems = (candidate: string) => {
    const reader = new TableReader({ headers: { 'X-A': '${token}', 'X-B': candidate } }, 'profiles.x')
    readHeaderTemplates(reader)
    return reader.problems.filter((problem) => problem.includes('"X-B"'))
  }

  it('a credential, a header set and a value template are refused exactly when the grammar refuses the value', () => {
    fc.assert(fc.property(value.filter((candidate) => !candidate.includes('$')), (candidate) => {
      const fault = headerValueFault(candidate)
      assert.equal(tokenRefused(candidate), fault !== undefined, `credential ${JSON.stringify(candidate)}`)
      assert.equal(headerSetRefused({ 'X-Key': candidate }), fault !== undefined, `header set ${JSON.stringify(candidate)}`)
      assert.equal(templateProblems(candidate).length > 0, fault !== undefined, `template ${JSON.stringify(candidate)}: ${templateProblems(candidate).join('; ')}`)
    }), { numRuns: 1000 })
  })

  it('a header name is refused by the config, a header set and a source\'s header credential exactly when the grammar refuses it', () => {
    fc.assert(fc.property(name, (candidate) => {
      const refusedByGrammar = !isHeaderName(candidate)
      assert.equal(headerSetRefused({ [candidate]: 'v' }), refusedByGrammar, JSON.stringify(candidate))
      let credentialRefused = false
      try {
        checkCredential({ kind: 'headers', headers: { [candidate]: 'v' } }, 'profile p', 0)
      } catch {
        credentialRefused = true
      }
      assert.equal(credentialRefused, refusedByGrammar, `credential ${JSON.stringify(candidate)}`)
      const reader = new TableReader({ headers: { [candidate]: '${token}' } }, 'profiles.x')
      readHeaderTemplates(reader)
      assert.equal(reader.problems.some((problem) => problem.includes('is not a header name')), refusedByGrammar, `config ${JSON.stringify(candidate)}`)
    }), { numRuns: 1000 })
  })

  // Where the three drifted before the one grammar, each a bug in one of them.
  it('a Bearer credential outside ASCII is refused (Node would send its Latin-1 bytes, not the UTF-8 stored); a Basic one goes out in base64', () => {
    assert.throws(() => checkCredential({ kind: 'token', value: 'tøken-ä' }, 'profile p', 0), /outside visible ASCII/)
    assert.doesNotThrow(() => checkCredential({ kind: 'token', value: 'ann:pässwörd', scheme: 'Basic' }, 'profile p', 0))
    assert.deepEqual(renderHeaders({ value: 'ann:pässwörd', scheme: 'Basic' }, undefined), { Authorization: `Basic ${Buffer.from('ann:pässwörd').toString('base64')}` })
  })

  it('a header set with a Latin-1, empty or space-padded value, or a source header with a bad name, is refused (it was let through)', () => {
    for (const bad of ['caf\xe9', '', ' v', 'v ']) assert.ok(headerSetRefused({ 'X-Key': bad }), JSON.stringify(bad))
    assert.throws(() => checkCredential({ kind: 'headers', headers: { 'X Key': 'v' } }, 'profile p', 0), /invalid header name/)
  })

  it('a refused header value is refused for the fault it has: each of the five named in the message, never the value', () => {
    const faults: [string, string][] = [['', 'is empty'], ['a\nb', 'contains a line break'], ['a\x01b', 'contains a control character'],
      ['t\xf8ken', 'contains a character outside visible ASCII (a server would receive other bytes)'], [' v', 'starts or ends with white space']]
    for (const [bad, described] of faults) {
      assert.throws(() => checkedHeaders({ 'X-Key': bad }), { code: 'ERR_SOURCE_OUTPUT', message: `the header set's header X-Key ${described}` }, JSON.stringify(bad))
    }
  })

  it('an unknown or unclosed placeholder is named whole (the config problem quotes it); ${token} is not one', () => {
    assert.equal(unknownPlaceholder('Bearer ${token}'), undefined)
    assert.equal(unknownPlaceholder('Bearer ${tokn}'), '${tokn}')
    assert.equal(unknownPlaceholder('${token}, ${user}'), '${user}')
    // Unclosed: the template would go out with a literal "${team" in it.
    assert.equal(unknownPlaceholder('${token}-${team'), '${team')
    assert.match(templateProblems('${token}-${team').join(), /unknown placeholder "\$\{team"/)
  })

  it('a value template outside ASCII or padded with spaces is a config problem, not a failure at every get', () => {
    assert.match(templateProblems('Bearer ${token} ').join(), /starts or ends with white space/)
    assert.match(templateProblems('Bearer ☃${token}').join(), /outside visible ASCII/)
    assert.deepEqual(templateProblems('Bearer ${token}'), [])
  })
})
