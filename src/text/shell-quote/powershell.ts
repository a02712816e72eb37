/**
 * Quoting for PowerShell: what `ccred env <profile> --shell powershell | Invoke-Expression`
 * runs. The one PowerShell quoter of ccred.
 *
 * A single-quoted string takes everything literally except a quote, which is doubled; and
 * PowerShell counts the typographic quotes (‘ ’ ‚ ‛, U+2018–U+201B) as single quotes too, so
 * each of them is doubled as well. A line break must not appear at all: Invoke-Expression
 * runs piped output line by line, so a value spanning lines would be cut and its rest run as
 * code. So a control character (C0, DEL) is written as `[char]N`, joined to the quoted runs
 * with `+`; the expression always starts with a quoted run, so `+` concatenates strings.
 *
 * No PowerShell runs here; test/unit/shell-quote.test.ts checks these documented rules, and a
 * job under Wine with a real PowerShell is to evaluate the output.
 */
export function powershellQuote(value: string): string {
  return value.split(/([\x00-\x1f\x7f])/).map((part, index) => index % 2 === 1
    ? `[char]${part.charCodeAt(0)}`
    : `'${part.replace(/['\u2018\u2019\u201a\u201b]/g, (quote) => quote + quote)}'`).join(' + ')
}
