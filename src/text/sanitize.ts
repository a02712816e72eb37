/**
 * The one place that decides what text may reach a terminal or a log. Anything
 * ccred prints that it did not write itself (a profile name or description from
 * the config, an upstream's error text, a helper's stderr, an IdP's
 * error_description) could otherwise move the cursor, retitle the window, forge
 * a line ("RUN: curl …|sh") or reorder what the reader sees. Light on purpose:
 * the warm `get` path prints its errors through it.
 *
 * Unsafe here: C0 controls and DEL (ESC among them), C1 controls U+0080–U+009F
 * (U+009B is a one-byte CSI to many terminals), the line and paragraph
 * separators, and the bidirectional marks, embeddings, overrides and isolates
 * (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069).
 *
 * A credential value is never passed through here: it is validated instead (see
 * src/broker/validate.ts), since a changed secret is a wrong secret.
 */

const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
/** The unsafe characters that JSON.stringify leaves as they are (it escapes C0 itself). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
/** Control characters (C0, DEL, C1) alone: what a credential may never contain. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/

/** True when `text` holds a character that must not reach a terminal raw. */
export function hasUnsafeChars(text: string): boolean {
  UNSAFE_CHARS.lastIndex = 0
  return UNSAFE_CHARS.test(text)
}

/** True when `text` holds a C0 or C1 control character or DEL. */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHARS.test(text)
}

function escapeChar(char: string): string {
  const code = char.charCodeAt(0)
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * One line safe for a terminal or a log: line breaks and tabs become spaces,
 * every other unsafe character is shown escaped (`\x1b`, `\x9b`, `\u202e`) so
 * the reader sees that something odd was there. `maxChars` cuts the result
 * (after escaping, so the cut cannot leave half an escape sequence live).
 */
export function sanitizeLine(text: string, maxChars?: number): string {
  const cleaned = text.replace(UNSAFE_CHARS, (char) => (char === '\n' || char === '\r' || char === '\t' ? ' ' : escapeChar(char)))
  return maxChars === undefined || cleaned.length <= maxChars ? cleaned : `${cleaned.slice(0, Math.max(0, maxChars - 1))}…`
}

/**
 * JSON for a terminal or a log: JSON.stringify escapes C0 controls but writes
 * DEL, C1 and bidi controls raw; these become \u escapes too, which any JSON
 * reader decodes back to the same value.
 */
export function stringifyJsonSafely(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(UNSAFE_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
