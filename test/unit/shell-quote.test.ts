/**
 * The three quoters of src/text/shell-quote/ and every caller of them. POSIX output is run
 * by each real POSIX shell on this machine (dash as sh, bash, busybox ash, zsh), which must
 * give back exactly the string quoted. No cmd.exe or PowerShell runs here: their documented
 * rules are checked one by one (a job under Wine with the real Windows shells is to evaluate
 * the output later).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { helperCommandLine } from '../../src/setup/helper-command.js'
import { CcredError } from '../../src/errors.js'
import { envLines } from '../../src/output/shell-env.js'
import { platformFor } from '../../src/platform.js'
import { execInvocation } from '../../src/sources/exec-invocation.js'
import { cmdQuote, cmdRefusal } from '../../src/text/shell-quote/cmd.js'
import { posixQuote } from '../../src/text/shell-quote/posix.js'
import { powershellQuote } from '../../src/text/shell-quote/powershell.js'

/** Characters some shell treats specially, mixed into arbitrary text so every sample is likely to hold a few. */
const SPECIAL = ["'", '"', '\\', '$', '`', '\n', '\r', '\t', ' ', '!', '*', '?', '[', ']', '~', '#', ';', '&', '|', '(', ')', '{', '}', '<', '>', '%', '^', '=', '-', '\x01', '\x1b', '\x7f', 'é', '\u2018', '\u2019', '\u2028', '😀']
const awkwardText = (options: { noNul: boolean }) => fc.array(fc.oneof(fc.constantFrom(...SPECIAL), fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 12 })
  .map((parts) => parts.join(''))
  .map((text) => (options.noNul ? text.replace(/\0/g, '') : text))

/** The POSIX shells here, by the command that runs a script: each must give back what was quoted. */
const ALL_POSIX_SHELLS: { name: string; argv: string[] }[] = [
  { name: 'sh (dash)', argv: ['/bin/sh'] },
  { name: 'bash', argv: ['bash'] },
  { name: 'busybox sh', argv: ['busybox', 'sh'] },
  { name: 'zsh', argv: ['zsh'] },
]
const POSIX_SHELLS = ALL_POSIX_SHELLS.filter((shell) => spawnSync(shell.argv[0]!, [...shell.argv.slice(1), '-c', 'true']).status === 0)

/** Runs `script` with `<shell> -c`, extra argv as $1…; stdout as UTF-8. */
function run(shell: { argv: string[] }, script: string, ...args: string[]): string {
  const result = spawnSync(shell.argv[0]!, [...shell.argv.slice(1), '-c', script, 'sh', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8' } })
  assert.equal(result.status, 0, `${shell.argv.join(' ')} failed: ${result.stderr}`)
  return result.stdout
}

/** printf's output split at the NULs it was told to write after each word. */
const words = (stdout: string): string[] => stdout.split('\0').slice(0, -1)

describe('POSIX quoting (text/shell-quote/posix.ts), run by real shells', { skip: process.platform === 'win32' && 'no POSIX shells on a Windows host' }, () => {
  it('this machine has dash and bash at least (else the properties below would prove little)', () => {
    const names = POSIX_SHELLS.map((shell) => shell.name)
    assert.ok(names.includes('sh (dash)') && names.includes('bash'), names.join(', '))
    assert.ok(existsSync('/bin/sh'))
  })

  // .ci/run installs busybox and zsh; elsewhere a missing one is reported as skipped, not passed.
  for (const shell of ALL_POSIX_SHELLS.filter((candidate) => !POSIX_SHELLS.includes(candidate))) it.skip(`${shell.name}: not installed here`)

  for (const shell of POSIX_SHELLS) {
    it(`${shell.name}: printf %s <quoted> gives back any string without NUL, each one word`, () => {
      fc.assert(fc.property(fc.array(awkwardText({ noNul: true }), { minLength: 1, maxLength: 8 }), (values) => {
        const script = `printf '%s\\000' ${values.map(posixQuote).join(' ')}`
        assert.deepEqual(words(run(shell, script)), values)
      }), { numRuns: 25 })
    })

    it(`${shell.name}: eval of \`ccred env\` output (envLines posix) sets each variable to the value`, () => {
      fc.assert(fc.property(fc.array(awkwardText({ noNul: true }), { minLength: 1, maxLength: 4 }), (values) => {
        const variables = Object.fromEntries(values.map((value, index) => [`CCRED_TEST_${index}`, value]))
        const script = `eval "$1"; printf '%s\\000' ${values.map((_, index) => `"$CCRED_TEST_${index}"`).join(' ')}`
        assert.deepEqual(words(run(shell, script, envLines(variables, 'posix'))), values)
      }), { numRuns: 15 })
    })

    it(`${shell.name}: the helper command line names exactly its node and its bin`, () => {
      const linux = platformFor('linux', { HOME: '/home/ann' }, () => '/home/ann')
      fc.assert(fc.property(awkwardText({ noNul: true }), awkwardText({ noNul: true }), (node, bin) => {
        assert.deepEqual(words(run(shell, `printf '%s\\000' ${helperCommandLine(linux, { kind: 'npm', nodePath: `/opt/${node}`, binPath: `/usr/lib/${bin}` })}`)), [`/opt/${node}`, `/usr/lib/${bin}`])
      }), { numRuns: 15 })
    })
  }

  it('a NUL, which no shell word can hold, is a TypeError (a bug in the caller), not a cut word', () => {
    assert.throws(() => posixQuote('a\0b'), { name: 'TypeError', message: 'posixQuote: a shell word cannot hold a NUL character' })
    assert.equal(posixQuote(''), "''")
    assert.equal(posixQuote("it's"), `'it'\\''s'`)
  })
})

// cmd.exe: the documented rules, one by one.
const REFUSED_BY_CMD = ['"', '%', '!', ...Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code)), '\x7f']

describe('cmd quoting (text/shell-quote/cmd.ts): the documented rules', () => {
  it('refuses ", %, !, every C0 control character and DEL, and says which kind without showing the value', () => {
    assert.equal(cmdRefusal('a"b'), 'a double quote (")')
    assert.equal(cmdRefusal('100%'), 'a percent sign (%), which cmd expands')
    assert.equal(cmdRefusal('hi!'), 'an exclamation mark (!), which cmd expands under delayed expansion')
    for (const char of REFUSED_BY_CMD.slice(3)) assert.equal(cmdRefusal(`a${char}b`), 'a control character or line break', JSON.stringify(char))
  })

  it('puts anything else in double quotes as it is: & | < > ^ ( ) and spaces are literal inside them', () => {
    const safe = fc.string({ unit: 'binary' }).filter((text) => !REFUSED_BY_CMD.some((char) => text.includes(char)))
    fc.assert(fc.property(safe, (value) => {
      assert.equal(cmdQuote(value, () => new Error('refused')), `"${value}"`)
    }))
    assert.equal(cmdQuote('a&b|c<d>e^f (g)', () => new Error('refused')), '"a&b|c<d>e^f (g)"')
  })

  it('every caller applies the same rule: the helper command line, `env --shell cmd` and a .cmd program of an exec source refuse the same characters', () => {
    const windows = platformFor('win32', { USERPROFILE: 'C:\\Users\\ann', ComSpec: 'C:\\Windows\\system32\\cmd.exe' }, () => 'C:\\Users\\ann')
    const callers: Record<string, (text: string) => unknown> = {
      'helper command line': (text) => helperCommandLine(windows, { kind: 'npm', nodePath: `C:\\node${text}\\node.exe`, binPath: 'C:\\ccred\\ccred.cjs' }),
      'env --shell cmd': (text) => envLines({ ANTHROPIC_AUTH_TOKEN: `tok${text}en` }, 'cmd'),
      'exec .cmd argument': (text) => execInvocation(windows, ['C:\\tools\\get-key.cmd', `--x=${text}`], false, () => true),
    }
    for (const [caller, call] of Object.entries(callers)) {
      for (const char of REFUSED_BY_CMD) {
        assert.throws(() => call(char), (error: unknown) => error instanceof CcredError && error.message.includes(cmdRefusal(char)!), `${caller} takes ${JSON.stringify(char)}`)
      }
      assert.doesNotThrow(() => call('a&b c^d'), caller)
    }
  })
})

/**
 * PowerShell's single-quoted strings as its documentation states them, to read back what
 * powershellQuote wrote: `'…'` runs (a doubled quote, straight or typographic, is one quote)
 * and `[char]N`, joined with ` + `.
 */
function readPowershellExpression(expression: string): string {
  let value = ''
  let rest = expression
  for (;;) {
    const quoted = /^'((?:[^'\u2018\u2019\u201a\u201b]|['\u2018\u2019\u201a\u201b]{2})*)'/.exec(rest)
    const char = /^\[char\](\d+)/.exec(rest)
    if (quoted !== null) {
      value += quoted[1]!.replace(/(['\u2018\u2019\u201a\u201b])\1/g, '$1')
      rest = rest.slice(quoted[0].length)
    } else if (char !== null) {
      value += String.fromCharCode(Number(char[1]))
      rest = rest.slice(char[0].length)
    } else {
      throw new Error(`not a quoted run or [char]N at ${JSON.stringify(rest)}`)
    }
    if (rest === '') return value
    assert.ok(rest.startsWith(' + '), `runs are joined with +: ${JSON.stringify(rest)}`)
    rest = rest.slice(3)
  }
}

describe('PowerShell quoting (text/shell-quote/powershell.ts): the documented rules', () => {
  it('gives one line, starting with a quoted run, that reads back to the value', () => {
    fc.assert(fc.property(awkwardText({ noNul: false }), (value) => {
      const expression = powershellQuote(value)
      assert.doesNotMatch(expression, /[\x00-\x1f\x7f]/, 'no control character, so no line break')
      assert.ok(expression.startsWith("'"), 'a quoted run first, so + joins strings')
      assert.equal(readPowershellExpression(expression), value)
    }), { numRuns: 500 })
  })

  it('doubles straight and typographic single quotes and writes control characters as [char]N', () => {
    assert.equal(powershellQuote(''), "''")
    assert.equal(powershellQuote("it's"), "'it''s'")
    assert.equal(powershellQuote('\u2018a\u2019\u201a\u201b'), "'\u2018\u2018a\u2019\u2019\u201a\u201a\u201b\u201b'")
    assert.equal(powershellQuote('a\nb'), "'a' + [char]10 + 'b'")
    assert.equal(powershellQuote('$(calc) "x" `n'), `'$(calc) "x" \`n'`)
    assert.equal(envLines({ A: 'x\ty' }, 'powershell'), "$env:A = 'x' + [char]9 + 'y'\n")
  })
})

// Surviving mutants of output/shell-env.ts (docs/mutation.md): the separators of several
// variables, and the hint of a value cmd cannot take.
describe('ccred env --shell powershell|cmd with several variables', () => {
  it('one line per variable, nothing between them; a refused cmd value says what to use instead', () => {
    assert.equal(envLines({ A: '1', B: '2' }, 'powershell'), "$env:A = '1'\n$env:B = '2'\n")
    assert.equal(envLines({ A: '1', B: '2' }, 'cmd'), 'set "A=1"\nset "B=2"\n')
    assert.throws(() => envLines({ A: 'x%y' }, 'cmd'), { code: 'ERR_USAGE', message: 'the value of A contains a percent sign (%), which cmd expands; cmd cannot take it literally', hint: 'use --shell powershell (or ccred exec <profile> -- <command>, which sets it without a shell)' })
  })
})
