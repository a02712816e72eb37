/**
 * smol-toml reports where a document breaks, but some of its reasons name the
 * symptom, not the mistake: a string left open runs into the line break, which it
 * calls "control characters are not allowed in strings". This turns its message
 * into what a person fixes, from the line it points at.
 */

/** The reason for a TOML parse failure at `line` (1-based) of `text`, in the user's terms. */
export function tomlFailureReason(message: string, text: string, line: number): string {
  const reason = message.split('\n')[0]!.replace(/^Invalid TOML document: /, '')
  const source = text.split(/\r?\n/)[line - 1] ?? ''
  if (/control characters? (are|is) not allowed/i.test(reason) && opensUnclosedString(source)) {
    return `a string is not closed on this line (a "…" or '…' string ends on the line it starts; use """…""" or '''…''' for several lines)`
  }
  return reason
}

/**
 * Whether a line leaves a one-line string open: counts the quotes that open and
 * close basic ("…", with backslash escapes) and literal ('…') strings outside a
 * comment. A multi-line delimiter (""" or ''') is left to the parser's own reason.
 */
function opensUnclosedString(line: string): boolean {
  let open: '"' | "'" | undefined
  for (let i = 0; i < line.length; i++) {
    const char = line[i]
    if (open === undefined) {
      if (char === '#') return false
      if (char === '"' || char === "'") {
        if (line.startsWith(char.repeat(3), i)) return false
        open = char
      }
    } else if (open === '"' && char === '\\') {
      i++
    } else if (char === open) {
      open = undefined
    }
  }
  return open !== undefined
}
