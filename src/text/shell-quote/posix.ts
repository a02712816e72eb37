/**
 * Quoting for a POSIX shell: `sh -c` (dash, bash, busybox ash, zsh), where Claude Code runs a
 * helper command line on Linux and macOS and where `eval "$(ccred env <profile>)"` runs the
 * exports. The one POSIX quoter of ccred.
 *
 * Single quotes: between them no character is special, not even a backslash or a line break,
 * and the only one that cannot appear is the quote itself, so each `'` is written as `'\''`
 * (close, an escaped quote, reopen). The result is one word whatever the value holds.
 * fish is not a POSIX shell (it reads `\\` and `\'` inside single quotes) and is not a target.
 */
export function posixQuote(value: string): string {
  // A C string cannot hold NUL: the shell would cut the word there. No path or validated
  // credential has one, so meeting it is a bug in the caller.
  if (value.includes('\0')) throw new TypeError('posixQuote: a shell word cannot hold a NUL character')
  return `'${value.replace(/'/g, `'\\''`)}'`
}
