import type { Header } from '../config/load.js'
import type { IssuedCredential } from '../protocol.js'

/**
 * The text that goes on stdout for `get`. Authorization: the bare token (Claude
 * Code adds "Bearer "). Proxy-Authorization: the whole header value, because
 * Claude Code sends proxyAuthHelper output verbatim and LiteLLM reads an empty key
 * when the scheme is missing.
 */
export function headerValue(credential: Pick<IssuedCredential, 'value' | 'scheme'>, header: Header): string {
  if (header === 'authorization') return credential.value
  if (credential.scheme === 'Basic') return `Basic ${Buffer.from(credential.value, 'utf8').toString('base64')}`
  return `Bearer ${credential.value}`
}

/** POSIX single-quoting: safe for any value without a NUL. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/**
 * The variables `ccred env` prints and `ccred exec` sets for a credential. An
 * aws profile carries its own: a Bedrock API key goes in AWS_BEARER_TOKEN_BEDROCK
 * (Claude Code's Bedrock mode reads it), exported credentials in the standard
 * AWS_* variables every AWS SDK reads.
 */
export function envVariables(credential: Pick<IssuedCredential, 'value' | 'scheme'> & { source?: string }, header: Header): Record<string, string> {
  if (credential.source === 'aws') return awsEnvVariables(credential.value)
  if (header === 'authorization') return { ANTHROPIC_AUTH_TOKEN: credential.value }
  return { ANTHROPIC_CUSTOM_HEADERS: `Proxy-Authorization: ${headerValue(credential, header)}` }
}

/** An aws profile's value is either awsCredentialExport JSON or a Bedrock API key. */
function awsEnvVariables(value: string): Record<string, string> {
  const credentials = awsExportCredentials(value)
  if (credentials === undefined) return { AWS_BEARER_TOKEN_BEDROCK: value }
  return {
    AWS_ACCESS_KEY_ID: credentials.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.SecretAccessKey,
    AWS_SESSION_TOKEN: credentials.SessionToken,
    ...(credentials.Expiration === undefined ? {} : { AWS_CREDENTIAL_EXPIRATION: credentials.Expiration }),
  }
}

/** The `Credentials` object of an aws profile's value (awsCredentialExport JSON), or undefined. */
export function awsExportCredentials(value: string): { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration?: string } | undefined {
  if (!value.startsWith('{')) return undefined
  try {
    const credentials = (JSON.parse(value) as { Credentials?: Record<string, unknown> }).Credentials
    if (typeof credentials?.AccessKeyId !== 'string' || typeof credentials.SecretAccessKey !== 'string' || typeof credentials.SessionToken !== 'string') return undefined
    return credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration?: string }
  } catch {
    return undefined
  }
}

export function envExports(variables: Record<string, string>): string {
  return Object.entries(variables).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join('')
}

export function jsonOutput(credential: IssuedCredential): string {
  const out: Record<string, unknown> = {
    profile: credential.profile,
    source: credential.source,
    header: credential.header,
    value: credential.value,
    headerValue: headerValue(credential, credential.header),
    expiresAt: credential.expiresAt ?? null,
    served: credential.served,
  }
  return JSON.stringify(out) + '\n'
}
