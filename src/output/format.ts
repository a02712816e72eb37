import type { Header } from '../config/settings.js'
import type { CredentialBody } from '../credential.js'
import type { IssuedCredential } from '../protocol.js'
import { posixQuote } from '../text/shell-quote/posix.js'

/**
 * The credential as one line of text: a token as it is, AWS credentials as the
 * awsCredentialExport JSON, headers as one JSON object.
 */
export function credentialText(credential: CredentialBody & { expiresAt?: string }): string {
  switch (credential.kind) {
    case 'token':
      return credential.value
    case 'aws':
      return awsCredentialExport(credential)
    case 'headers':
      return JSON.stringify(credential.headers)
  }
}

/**
 * The text that goes on stdout for `get`. Authorization: the bare token (Claude
 * Code adds "Bearer "). Proxy-Authorization: the whole header value, because
 * Claude Code sends proxyAuthHelper output verbatim and LiteLLM reads an empty key
 * when the scheme is missing.
 */
export function headerValue(credential: CredentialBody & { expiresAt?: string }, header: Header): string {
  const text = credentialText(credential)
  if (header === 'authorization' || credential.kind === 'headers') return text
  if (credential.kind === 'token' && credential.scheme === 'Basic') return `Basic ${Buffer.from(text, 'utf8').toString('base64')}`
  return `Bearer ${text}`
}

/**
 * The variables `ccred env` prints and `ccred exec` sets for a credential. AWS
 * credentials go in the standard AWS_* variables every AWS SDK reads; a token
 * that names its own variable (a Bedrock API key: AWS_BEARER_TOKEN_BEDROCK) goes
 * there; a gateway key goes where Claude Code reads it for the header.
 */
export function envVariables(credential: CredentialBody & { expiresAt?: string }, header: Header): Record<string, string> {
  switch (credential.kind) {
    case 'aws':
      return {
        AWS_ACCESS_KEY_ID: credential.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credential.secretAccessKey,
        ...(credential.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: credential.sessionToken }),
        ...(credential.expiresAt === undefined ? {} : { AWS_CREDENTIAL_EXPIRATION: credential.expiresAt }),
      }
    case 'headers':
      return { ANTHROPIC_CUSTOM_HEADERS: Object.entries(credential.headers).map(([name, value]) => `${name}: ${value}`).join('\n') }
    case 'token':
      if (credential.envVariable !== undefined) return { [credential.envVariable]: credential.value }
      if (header === 'authorization') return { ANTHROPIC_AUTH_TOKEN: credential.value }
      return { ANTHROPIC_CUSTOM_HEADERS: `Proxy-Authorization: ${headerValue(credential, header)}` }
  }
}

/**
 * `{"Credentials": {...}}` exactly as Claude Code's awsCredentialExport reads it
 * (the shape of `aws sts assume-role` output), on one line.
 */
export function awsCredentialExport(credential: Extract<CredentialBody, { kind: 'aws' }> & { expiresAt?: string }): string {
  const exported: Record<string, string> = { AccessKeyId: credential.accessKeyId, SecretAccessKey: credential.secretAccessKey }
  if (credential.sessionToken !== undefined) exported.SessionToken = credential.sessionToken
  if (credential.expiresAt !== undefined) exported.Expiration = credential.expiresAt
  return JSON.stringify({ Credentials: exported })
}

export function envExports(variables: Record<string, string>): string {
  return Object.entries(variables).map(([name, value]) => `export ${name}=${posixQuote(value)}\n`).join('')
}

export function jsonOutput(credential: IssuedCredential): string {
  const out: Record<string, unknown> = {
    profile: credential.profile,
    source: credential.source,
    header: credential.header,
    value: credentialText(credential),
    headerValue: headerValue(credential, credential.header),
    expiresAt: credential.expiresAt ?? null,
    served: credential.served,
  }
  return JSON.stringify(out) + '\n'
}
