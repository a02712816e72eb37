/**
 * Quoting for Windows cmd.exe: where Claude Code runs a helper command line on Windows
 * (`cmd /d /s /c`), what `for /f … do %i` runs from `ccred env --shell cmd`, and how a
 * `.cmd`/`.bat` program gets its arguments. The one cmd quoter of ccred.
 *
 * Inside double quotes cmd takes `&|<>^()` and spaces literally, but it still expands
 * `%VAR%`, and `!VAR!` when delayed expansion is on (a registry setting the writer of the
 * line cannot see), and it has no escape for a `"`: `^"` and `""` are not quotes inside
 * quotes, and a line break ends the command. A value holding any of these cannot be written
 * so that cmd reads it back unchanged; it is refused, never written half-quoted (the
 * BatBadBut class of injection). DEL and the other control characters are refused with them:
 * the console and `for /f` treat them unevenly, and no path or credential holds one.
 *
 * No cmd.exe runs here; test/unit/shell-quote.test.ts checks these documented rules, and a
 * job under Wine with a real Windows cmd is to evaluate the output.
 */

const UNQUOTABLE = /["%!\x00-\x1f\x7f]/

/** What in `value` cmd cannot take literally inside double quotes (described, never shown), or undefined. */
export function cmdRefusal(value: string): string | undefined {
  const bad = UNQUOTABLE.exec(value)
  if (bad === null) return undefined
  switch (bad[0]) {
    case '"':
      return 'a double quote (")'
    case '%':
      return 'a percent sign (%), which cmd expands'
    case '!':
      return 'an exclamation mark (!), which cmd expands under delayed expansion'
    default:
      return 'a control character or line break'
  }
}

/**
 * `value` in double quotes, for cmd. When cmd cannot take it literally, throws what
 * `refuse` makes of the description (the caller knows what the value is and what to advise;
 * a credential's value is never put in a message).
 */
export function cmdQuote(value: string, refuse: (what: string) => Error): string {
  const what = cmdRefusal(value)
  if (what !== undefined) throw refuse(what)
  return `"${value}"`
}
