/**
 * What ccred puts into an HTTP header: the one rule, read by the config (a profile's
 * `headers` templates, config/header-templates.ts), the broker (every credential a source
 * returns, broker/validate.ts) and the output (`get --format headers`, output/headers.ts).
 * Light on purpose: the warm `get` path reaches it through output/.
 *
 * - A name is an RFC 9110 token (`field-name = token`): letters, digits and
 *   !#$%&'*+-.^_`|~, 1 to MAX_HEADER_NAME_CHARS characters.
 * - A value is one line of visible US-ASCII and spaces, not empty and neither starting nor
 *   ending with a space: RFC 9110's field-value without obs-text and without HTAB. obs-text
 *   (bytes 0x80–0xFF) is sent by Node as Latin-1 while the helper's output is read as UTF-8,
 *   so a non-ASCII credential reaches the server as other bytes than the ones stored;
 *   surrounding white space is stripped by every HTTP parser (the server sees another
 *   value); a tab is legal inside a field-value but no credential or template holds one,
 *   and no check of ccred ever let one through. CR, LF and NUL would split or end the header.
 * - `${token}` in a value template stands for the credential; there is no other placeholder.
 */

/** The credential in a profile's header value template. */
export const TOKEN_PLACEHOLDER = '${token}'
/** The longest header name a profile may set (no real one comes close). */
export const MAX_HEADER_NAME_CHARS = 128

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Whether `name` may be a header name: an RFC 9110 token of at most MAX_HEADER_NAME_CHARS. */
export function isHeaderName(name: string): boolean {
  return name.length <= MAX_HEADER_NAME_CHARS && TOKEN.test(name)
}

/** Why a string cannot be a header value, in the order checked. */
export type HeaderValueFault = 'empty' | 'line-break' | 'control' | 'not-ascii' | 'surrounding-space'

const LINE_BREAK = /[\r\n]/
/** C0 (NUL and HTAB included), DEL and C1: never in a header, nor on a terminal raw. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const NOT_VISIBLE_ASCII = /[^\u0020-\u007e]/

/**
 * Why `value` cannot go out as a header value as it is, or undefined when it can. With
 * `encoded`, the value is encoded before it becomes one (Basic's user:password, in base64),
 * so characters outside ASCII are allowed; it is still one line of text.
 */
export function headerValueFault(value: string, options: { encoded?: boolean } = {}): HeaderValueFault | undefined {
  if (value.length === 0) return 'empty'
  if (LINE_BREAK.test(value)) return 'line-break'
  if (CONTROL.test(value)) return 'control'
  if (options.encoded !== true && NOT_VISIBLE_ASCII.test(value)) return 'not-ascii'
  if (value !== value.trim()) return 'surrounding-space'
  return undefined
}

/** Whether `value` may go out as a header value as it is. */
export function isHeaderValue(value: string): boolean {
  return headerValueFault(value) === undefined
}

/** The fault as the end of a sentence about the value ("the header X-Key …"); never quotes the value. */
export function describeHeaderValueFault(fault: HeaderValueFault): string {
  switch (fault) {
    case 'empty':
      return 'is empty'
    case 'line-break':
      return 'contains a line break'
    case 'control':
      return 'contains a control character'
    case 'not-ascii':
      return 'contains a character outside visible ASCII (a server would receive other bytes)'
    case 'surrounding-space':
      return 'starts or ends with white space'
  }
}

/** The first `${…}` in a value template that is not `${token}` (or an unclosed `${`), or undefined. */
export function unknownPlaceholder(template: string): string | undefined {
  return /\$\{(?!token\})[^}]*\}?/.exec(template)?.[0]
}

/**
 * Why a value template cannot become a header value whatever credential fills it, or
 * undefined: the template with `${token}` standing for one visible character must be a
 * header value (a valid credential is one, so the rendered header is one too).
 */
export function headerTemplateFault(template: string): HeaderValueFault | undefined {
  return headerValueFault(renderHeaderTemplate(template, 'x'))
}

/** The header value a template gives for `token`. */
export function renderHeaderTemplate(template: string, token: string): string {
  return template.split(TOKEN_PLACEHOLDER).join(token)
}
