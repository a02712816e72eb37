/**
 * Claim templates: strings in the config may hold `${USER}`, `${HOSTNAME}` and
 * `${env:NAME}`, filled in each time a token is minted. They are checked when the
 * config loads (an unknown placeholder is a config error) and a variable that is
 * not set when minting is an error, never an empty claim.
 */

export type ClaimTemplate = string | number | boolean | ClaimTemplate[] | { [name: string]: ClaimTemplate }
export type ClaimValue = string | number | boolean | ClaimValue[] | { [name: string]: ClaimValue }

export interface TemplateVariables {
  user(): string
  hostname(): string
  /** Throws (ERR_REFERENCE) when the variable is not set; `where` names the claim. */
  env(name: string, where: string): Promise<string>
}

const PLACEHOLDER = /\$\{([^}]*)\}/g
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Problems in one template string, or [] when every placeholder is known. */
export function placeholderProblems(text: string): string[] {
  const problems: string[] = []
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1]!
    if (name === 'USER' || name === 'HOSTNAME') continue
    if (name.startsWith('env:') && ENV_NAME.test(name.slice(4))) continue
    problems.push(`unknown placeholder "\${${name.slice(0, 40)}}" (known: \${USER}, \${HOSTNAME}, \${env:NAME})`)
  }
  if (/\$\{[^}]*$/.test(text)) problems.push('has an unclosed "${"')
  return problems
}

/** Checks a whole claim value from TOML; returns problems keyed by the dotted claim path. */
export function templateProblems(value: unknown, where: string): string[] {
  if (typeof value === 'string') return placeholderProblems(value).map((problem) => `${where}: ${problem}`)
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [`${where}: not a finite number`]
  if (typeof value === 'boolean') return []
  if (Array.isArray(value)) return value.flatMap((item, index) => templateProblems(item, `${where}[${index}]`))
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    // Names are never templated: a "${" in one would go out literally, which is never what was meant.
    return Object.entries(value).flatMap(([key, item]) => [
      ...(key.includes('${') ? [`${where}: the claim name "${key.slice(0, 40)}" has "\${": claim names are not templated, only values`] : []),
      ...templateProblems(item, `${where}.${key}`),
    ])
  }
  return [`${where}: expected a string, number, boolean, array or table`]
}

export async function renderString(text: string, vars: TemplateVariables, where: string): Promise<string> {
  let out = ''
  let last = 0
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1]!
    out += text.slice(last, match.index)
    out += name === 'USER' ? vars.user() : name === 'HOSTNAME' ? vars.hostname() : await vars.env(name.slice(4), where)
    last = match.index! + match[0].length
  }
  return out + text.slice(last)
}

export async function renderClaim(value: ClaimTemplate, vars: TemplateVariables, where: string): Promise<ClaimValue> {
  if (typeof value === 'string') return renderString(value, vars, where)
  if (typeof value === 'number' || typeof value === 'boolean') return value
  if (Array.isArray(value)) return Promise.all(value.map((item, index) => renderClaim(item, vars, `${where}[${index}]`)))
  const out: Record<string, ClaimValue> = {}
  for (const [key, item] of Object.entries(value)) out[key] = await renderClaim(item, vars, `${where}.${key}`)
  return out
}
