import { CcredError } from '../errors.js'
import { envExports } from './format.js'

/** The shells `ccred env --shell` prints for. */
export const SHELLS = ['posix', 'powershell', 'cmd'] as const
export type Shell = (typeof SHELLS)[number]

/**
 * Lines that set `variables` in the named shell, each value quoted so that the
 * shell takes it literally:
 * - posix: `export NAME='value'` for `eval "$(ccred env p)"`;
 * - powershell: `$env:NAME = 'value'` for `ccred env p --shell powershell | Invoke-Expression`;
 *   in a single-quoted string only a quote is special, and PowerShell counts the
 *   typographic quotes (‘ ’ ‚ ‛) as quotes too, so each is doubled; a line break or other
 *   control character is written as `[char]N` joined with `+`, because Invoke-Expression
 *   runs piped output line by line (a value spanning lines would be cut and its rest run as code);
 * - cmd: `set "NAME=value"` for `for /f "delims=" %i in ('ccred env p --shell cmd') do %i`;
 *   cmd has no literal quoting for `%` or `!` (expanded even inside quotes), nor for a
 *   `"` or a line break, so such a value is refused rather than printed to be run wrong.
 */
export function envLines(variables: Record<string, string>, shell: Shell): string {
  if (shell === 'posix') return envExports(variables)
  if (shell === 'powershell') {
    return Object.entries(variables).map(([name, value]) => `$env:${name} = ${powershellString(value)}\n`).join('')
  }
  return Object.entries(variables).map(([name, value]) => {
    const bad = /["%!]|[\x00-\x1f\x7f]/.exec(value)
    if (bad !== null) {
      // The character class only: the value is a credential and never printed.
      const what = /[\x00-\x1f\x7f]/.test(bad[0]) ? 'a control character or line break' : `a ${JSON.stringify(bad[0])}`
      throw new CcredError('ERR_USAGE', `the value of ${name} contains ${what}, which cmd cannot take literally`, { hint: 'use --shell powershell (or ccred exec <profile> -- <command>, which sets it without a shell)' })
    }
    return `set "${name}=${value}"\n`
  }).join('')
}

/**
 * A PowerShell expression on one line whose value is `value`: single-quoted runs
 * (quotes doubled) joined with `[char]N` for each control character. It always
 * starts with a quoted run, so `+` concatenates strings rather than chars.
 */
function powershellString(value: string): string {
  return value.split(/([\x00-\x1f\x7f])/).map((part, index) => index % 2 === 1
    ? `[char]${part.charCodeAt(0)}`
    : `'${part.replace(/['\u2018\u2019\u201a\u201b]/g, (quote) => quote + quote)}'`).join(' + ')
}
