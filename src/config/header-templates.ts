import { headerTemplateFault, isHeaderName, MAX_HEADER_NAME_CHARS, TOKEN_PLACEHOLDER, unknownPlaceholder } from '../text/header-grammar.js'
import { describe, isTable, quoteShort, type TableReader } from './fields.js'
import { fromReader, type Field } from './schema.js'

/**
 * Which headers `ccred get <profile> --format headers` prints (MCP headersHelper,
 * otelHeadersHelper): header name → value template. Names are kept as written,
 * because Claude Code merges them case-sensitively with a server's static headers.
 * `${token}` in a value is the credential.
 *
 *   headers = { Authorization = "Bearer ${token}", "X-Api-Key" = "${token}" }
 */
export type HeaderTemplates = Readonly<Record<string, string>>

const MAX_HEADERS = 32
/** Framing and routing headers the HTTP client owns: a profile setting them would break the request. */
const RESERVED = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive', 'mcp-session-id', 'mcp-protocol-version'])

/** A profile's `headers` table: undefined when absent, INVALID with every problem recorded. */
export const headerTemplates: Field<HeaderTemplates | undefined> = fromReader(readHeaderTemplates)

/** The same read as the `headerTemplates` field, on a reader (its problems recorded there). */
export function readHeaderTemplates(reader: TableReader): HeaderTemplates | undefined {
  const value = reader.raw('headers')
  if (value === undefined) return undefined
  const problem = (message: string) => reader.problem('headers', message)
  if (!isTable(value)) {
    problem(`expected a table of header names to value templates, e.g. headers = { Authorization = "Bearer \${token}" }, got ${describe(value)}`)
    return undefined
  }
  const entries = Object.entries(value)
  if (entries.length === 0) problem('is empty: name at least one header (or leave headers out for Authorization: Bearer <token>)')
  if (entries.length > MAX_HEADERS) problem(`has ${entries.length} headers, at most ${MAX_HEADERS}`)
  const templates: Record<string, string> = {}
  const byLowerCase = new Map<string, string>()
  for (const [name, template] of entries) {
    const where = `header ${quoteShort(name)}`
    if (!isHeaderName(name)) {
      problem(`${where} is not a header name (letters, digits and !#$%&'*+-.^_\`|~ only, at most ${MAX_HEADER_NAME_CHARS}: no spaces, no ":")`)
      continue
    }
    if (RESERVED.has(name.toLowerCase())) problem(`${where} is set by the HTTP client itself; a helper cannot set it`)
    const twin = byLowerCase.get(name.toLowerCase())
    if (twin !== undefined) problem(`${where} and "${twin}" differ only in case: a server would get both; keep one`)
    byLowerCase.set(name.toLowerCase(), name)
    if (typeof template !== 'string') {
      problem(`${where}: expected a string value template, got ${describe(template)}`)
      continue
    }
    const unknown = unknownPlaceholder(template)
    if (unknown !== undefined) problem(`${where}: unknown placeholder ${quoteShort(unknown)} (the only one is \${token}, the credential)`)
    // The grammar of text/header-grammar.ts, the same the rendered header is checked by.
    switch (template.trim() === '' ? 'empty' : headerTemplateFault(template)) {
      case 'empty':
        problem(`${where}: the value template is empty (Claude Code would send an empty header)`)
        break
      case 'line-break':
      case 'control':
        problem(`${where}: the value template holds a control character or line break (a header value is one line of visible ASCII)`)
        break
      case 'not-ascii':
        problem(`${where}: the value template holds a character outside visible ASCII (a server would receive other bytes)`)
        break
      case 'surrounding-space':
        problem(`${where}: the value template starts or ends with white space (HTTP strips it: the server would see another value)`)
        break
    }
    templates[name] = template
  }
  if (entries.length > 0 && !Object.values(templates).some((template) => template.includes(TOKEN_PLACEHOLDER))) {
    problem('no header uses ${token}: the credential would go nowhere')
  }
  return templates
}
