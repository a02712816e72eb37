/**
 * The one place that takes secrets out of text ccred did not write: a helper's stderr,
 * an upstream's error body, an IdP's error_description. Such text reaches `get`'s
 * stderr, `status`, `doctor` and the daemon's memory of the last error, so it is
 * redacted before anything cuts it short (a cut could leave a secret's prefix whole).
 *
 * What is protected is said by the caller: a profile's current and previous values,
 * what its references resolved to, what the helper printed on stdout. Each is looked
 * for in the forms a helper prints a secret in: as is, JSON-escaped, URL-encoded,
 * base64 and base64url (also inside a longer base64 blob, such as `user:secret` in a
 * Basic header). Besides, any `Basic …` / `Bearer …` credential is redacted whatever
 * it holds: a `curl -v` line says `Authorization: Basic <base64>`.
 */

/** Runs of a secret (in any form) this long or longer are redacted; shorter ones are too common to mean anything. */
export const MIN_REDACTED_RUN = 8
/**
 * The run for the last pass over a finished message (the broker's, over every source's
 * error): such a message is mostly ccred's own words, and a secret with a word in it
 * ("…-discovery-…") must not eat "discovery of". A source that cuts upstream text short
 * redacts with MIN_REDACTED_RUN before the cut (exec); this pass catches what another
 * source let through, up to a remnant shorter than this at a cut.
 */
export const MIN_REDACTED_RUN_IN_MESSAGES = 12
export const REDACTED = '[redacted]'

/** A credential after an auth scheme: always a secret, whoever's it is. */
const SCHEME_CREDENTIAL = /\b(Basic|Bearer)(\s+)[A-Za-z0-9+/._~-]{8,}=*/gi

/**
 * Whether the word after "Basic"/"Bearer" is a credential rather than prose ("Basic
 * authentication failed"): a Basic one decodes to user:pass; a Bearer one has a digit or
 * a token character, or is too long for a word.
 */
function looksLikeCredential(scheme: string, value: string): boolean {
  if (scheme.toLowerCase() === 'basic') return /^[A-Za-z0-9+/]+=*$/.test(value) && Buffer.from(value, 'base64').toString('latin1').includes(':')
  return /[0-9._~+/-]/.test(value) || value.length >= 20
}

/**
 * The stretch of base64 (or base64url) text that encodes exactly the secret's bytes
 * when `offset` bytes (0–2) of anything come before it: the characters whose six bits
 * all fall inside the secret. Found inside any longer blob at that alignment.
 */
function embeddedBase64(bytes: Buffer, offset: number, encoding: 'base64' | 'base64url'): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(encoding)
  const start = Math.ceil((offset * 8) / 6)
  const end = Math.floor(((offset + bytes.length) * 8) / 6)
  return encoded.slice(start, end)
}

/** The forms a helper may print `secret` in. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret])
  forms.add(JSON.stringify(secret).slice(1, -1))
  forms.add(encodeURIComponent(secret))
  forms.add(encodeURIComponent(secret).replace(/%20/g, '+'))
  const bytes = Buffer.from(secret, 'utf8')
  for (const encoding of ['base64', 'base64url'] as const) {
    // Shifted forms of a short secret are a few characters that would match unrelated text.
    for (let offset = 0; offset < (secret.length >= MIN_REDACTED_RUN ? 3 : 1); offset++) forms.add(embeddedBase64(bytes, offset, encoding))
  }
  return [...forms].filter((form) => form.length >= 4)
}

/**
 * Replaces with "[redacted]" every run of `text` that is a substring, at least `minRun`
 * long, of a secret in any of its forms (or a whole form shorter than that, if 4 or
 * more), and every `Basic`/`Bearer` credential.
 */
export function redactSecrets(text: string, secrets: readonly string[], minRun = MIN_REDACTED_RUN): string {
  const covered = new Uint8Array(text.length)
  const forms = new Set<string>()
  for (const secret of secrets) if (secret !== '') for (const form of secretForms(secret)) forms.add(form)
  for (const form of forms) {
    if (form.length < minRun) {
      for (let at = text.indexOf(form); at !== -1; at = text.indexOf(form, at + 1)) covered.fill(1, at, at + form.length)
      continue
    }
    // Every substring of length ≥ n of the form is a chain of its n-grams.
    const grams = new Set<string>()
    for (let i = 0; i + minRun <= form.length; i++) grams.add(form.slice(i, i + minRun))
    for (let i = 0; i + minRun <= text.length; i++) {
      if (grams.has(text.slice(i, i + minRun))) covered.fill(1, i, i + minRun)
    }
  }
  for (const match of text.matchAll(SCHEME_CREDENTIAL)) {
    const valueAt = match.index + match[1]!.length + match[2]!.length
    if (looksLikeCredential(match[1]!, text.slice(valueAt, match.index + match[0].length))) covered.fill(1, valueAt, match.index + match[0].length)
  }
  let out = ''
  for (let i = 0; i < text.length; i++) {
    if (covered[i] === 0) out += text[i]
    else if (i === 0 || covered[i - 1] === 0) out += REDACTED
  }
  return out
}

/** JSON keys whose values are secret (a service-account key's private_key, an OAuth client_secret, a refresh_token). */
const SECRET_KEY_NAME = /key|secret|token|password|passphrase|credential/i
/** …unless they name a place: token_uri, auth_provider_x509_cert_url. */
const PLACE_KEY_NAME = /_(uri|url)$/i

/**
 * The parts of a resolved reference to protect. A plain value is a secret whole. A JSON
 * document (a service-account key file) is mostly not secret: its email, project and URLs
 * are what an error names, so only the string values under secret-looking keys count.
 */
export function secretPartsOf(value: string): string[] {
  const text = value.trim()
  if (!text.startsWith('{')) return [value]
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return [value]
  }
  const parts: string[] = []
  const walk = (node: unknown, key: string | undefined): void => {
    if (typeof node === 'string') {
      if (key !== undefined && SECRET_KEY_NAME.test(key) && !PLACE_KEY_NAME.test(key)) parts.push(node)
    } else if (Array.isArray(node)) {
      for (const item of node) walk(item, key)
    } else if (node !== null && typeof node === 'object') {
      for (const [name, child] of Object.entries(node)) walk(child, name)
    }
  }
  walk(parsed, undefined)
  return parts
}

/** A redactor that knows what it protects: `secrets()` is asked at each use, so it sees the latest values. */
export type Redact = (text: string) => string

export function redactorFor(secrets: () => readonly string[]): Redact {
  return (text) => redactSecrets(text, secrets())
}
