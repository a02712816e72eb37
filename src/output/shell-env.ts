import { CcredError } from '../errors.js'
import { cmdQuote } from '../text/shell-quote/cmd.js'
import { powershellQuote } from '../text/shell-quote/powershell.js'
import { envExports } from './format.js'

/** The shells `ccred env --shell` prints for. */
export const SHELLS = ['posix', 'powershell', 'cmd'] as const
export type Shell = (typeof SHELLS)[number]

/**
 * Lines that set `variables` in the named shell, each value quoted so that the
 * shell takes it literally (the quoting rules: src/text/shell-quote/):
 * - posix: `export NAME='value'` for `eval "$(ccred env p)"`;
 * - powershell: `$env:NAME = 'value'` for `ccred env p --shell powershell | Invoke-Expression`,
 *   on one line whatever the value holds;
 * - cmd: `set "NAME=value"` for `for /f "delims=" %i in ('ccred env p --shell cmd') do %i`;
 *   a value cmd cannot take literally (`"`, `%`, `!`, a line break) is refused rather than
 *   printed to be run wrong.
 */
export function envLines(variables: Record<string, string>, shell: Shell): string {
  if (shell === 'posix') return envExports(variables)
  if (shell === 'powershell') {
    return Object.entries(variables).map(([name, value]) => `$env:${name} = ${powershellQuote(value)}\n`).join('')
  }
  // The character class only: the value is a credential and never printed.
  return Object.entries(variables).map(([name, value]) => `set ${cmdQuote(`${name}=${value}`, (what) => new CcredError('ERR_USAGE', `the value of ${name} contains ${what}; cmd cannot take it literally`, {
    hint: 'use --shell powershell (or ccred exec <profile> -- <command>, which sets it without a shell)',
  }))}\n`).join('')
}
