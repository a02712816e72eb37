import type { HeaderTemplates } from '../config/header-templates.js'
import type { Credential, CredentialBody } from '../credential.js'
import { CcredError } from '../errors.js'
import { describeHeaderValueFault, headerValueFault, isHeaderName, renderHeaderTemplate } from '../text/header-grammar.js'

/** What a profile prints with `--format headers` when its config names no headers. */
export function defaultHeaderTemplates(scheme: 'Bearer' | 'Basic' = 'Bearer'): HeaderTemplates {
  return { Authorization: scheme === 'Basic' ? 'Basic ${token}' : 'Bearer ${token}' }
}

/** The profile's header templates, or the default (Authorization with the scheme). */
export function headerTemplatesOf(profile: { headers?: HeaderTemplates }, scheme: 'Bearer' | 'Basic' = 'Bearer'): HeaderTemplates {
  return profile.headers ?? defaultHeaderTemplates(scheme)
}

/**
 * A token credential as the header set a profile's templates describe. `${token}`
 * is the value; in the default Basic template it is the base64 of "user:password".
 * Every value is checked like the bare output: one line of printable text.
 */
export function renderHeaders(token: { value: string; scheme?: 'Bearer' | 'Basic' }, templates: HeaderTemplates | undefined): Record<string, string> {
  const scheme = token.scheme ?? 'Bearer'
  const basic = templates === undefined && scheme === 'Basic'
  const value = basic ? Buffer.from(token.value, 'utf8').toString('base64') : token.value
  const headers: Record<string, string> = {}
  for (const [name, template] of Object.entries(templates ?? defaultHeaderTemplates(scheme))) {
    headers[name] = renderHeaderTemplate(template, value)
  }
  return checkedHeaders(headers)
}

/**
 * Any credential as the header set a profile prints (`get --format headers`): a
 * token through the profile's templates; a source's own header set as it is; AWS
 * credentials are not headers.
 */
export function headerSetBody(credential: Credential, profile: { name: string; headers?: HeaderTemplates }): Extract<CredentialBody, { kind: 'headers' }> {
  switch (credential.kind) {
    case 'token':
      return { kind: 'headers', headers: renderHeaders(credential, profile.headers) }
    case 'headers':
      return { kind: 'headers', headers: checkedHeaders({ ...credential.headers }) }
    case 'aws':
      throw new CcredError('ERR_USAGE', `profile ${profile.name} yields AWS credentials, not headers`, { hint: `Claude Code reads them with awsCredentialExport: ccred aws-export ${profile.name}` })
  }
}

/**
 * A header set fit for Claude Code's JSON parse and for HTTP: names and values by the
 * header grammar (text/header-grammar.ts; a newline would become a header injection).
 * The message names the header, never its value.
 */
export function checkedHeaders(headers: Record<string, string>): Record<string, string> {
  const hint = 'check the profile\'s headers templates and what its source returns'
  for (const [name, value] of Object.entries(headers)) {
    if (!isHeaderName(name)) throw new CcredError('ERR_SOURCE_OUTPUT', 'the header set holds an invalid header name', { hint })
    const fault = typeof value === 'string' ? headerValueFault(value) : 'empty'
    if (fault !== undefined) throw new CcredError('ERR_SOURCE_OUTPUT', `the header set's header ${name} ${describeHeaderValueFault(fault)}`, { hint })
  }
  return headers
}

/** `get --format headers` output: one JSON object of string values on one line, and a newline. */
export function headersOutput(headers: Record<string, string>): string {
  // JSON.stringify escapes every control character, and checkedHeaders already refused them: one line.
  return `${JSON.stringify(checkedHeaders(headers))}\n`
}
