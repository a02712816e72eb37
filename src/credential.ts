/**
 * What a credential is, whatever source made it: a token, AWS credentials, or a
 * set of headers. Sources return a Credential, the broker caches it, the service
 * sends its body over the wire, and output formats switch on `kind`.
 */
export type Credential = TokenCredential | AwsCredential | HeadersCredential

/** What every kind carries besides its secret. */
interface CredentialTiming {
  /** undefined = does not expire (a static key). */
  expiresAt?: Date
  /**
   * A soft refresh time for a value that does not expire (a static Vault KV
   * secret): the value stays valid and keeps being served, and the broker reads
   * it again in the background at this time, so a rotated key is picked up.
   */
  refreshAt?: Date
  /** Non-secret facts for status (reference, command, note). */
  meta?: Record<string, string>
}

export interface TokenCredential extends CredentialTiming {
  kind: 'token'
  value: string
  /** For header-value output; default Bearer. A Basic value is "user:password". */
  scheme?: 'Bearer' | 'Basic'
  /**
   * The variable `ccred env` and `ccred exec` put the token in when it is not a
   * gateway key (a Bedrock API key goes in AWS_BEARER_TOKEN_BEDROCK).
   */
  envVariable?: string
}

export interface AwsCredential extends CredentialTiming {
  kind: 'aws'
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

/** Header names and values sent as they are (an MCP headersHelper's output). */
export interface HeadersCredential extends CredentialTiming {
  kind: 'headers'
  headers: Record<string, string>
}

/** The secret part of a credential as it crosses the wire (dates and meta stay in the daemon). */
export type CredentialBody =
  | { kind: 'token'; value: string; scheme: 'Bearer' | 'Basic'; envVariable?: string }
  | { kind: 'aws'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { kind: 'headers'; headers: Record<string, string> }

export function credentialBody(credential: Credential): CredentialBody {
  switch (credential.kind) {
    case 'token':
      return {
        kind: 'token',
        value: credential.value,
        scheme: credential.scheme ?? 'Bearer',
        ...(credential.envVariable === undefined ? {} : { envVariable: credential.envVariable }),
      }
    case 'aws':
      return {
        kind: 'aws',
        accessKeyId: credential.accessKeyId,
        secretAccessKey: credential.secretAccessKey,
        ...(credential.sessionToken === undefined ? {} : { sessionToken: credential.sessionToken }),
      }
    case 'headers':
      return { kind: 'headers', headers: { ...credential.headers } }
  }
}

/** Every string of a credential that goes out, with what it is (for validation messages). */
export function credentialStrings(credential: Credential | CredentialBody): { what: string; text: string }[] {
  switch (credential.kind) {
    case 'token':
      return [{ what: 'credential', text: credential.value }]
    case 'aws':
      return [
        { what: 'access key id', text: credential.accessKeyId },
        { what: 'secret access key', text: credential.secretAccessKey },
        ...(credential.sessionToken === undefined ? [] : [{ what: 'session token', text: credential.sessionToken }]),
      ]
    case 'headers':
      return Object.entries(credential.headers).flatMap(([name, text]) => [{ what: 'header name', text: name }, { what: `header ${name}`, text }])
  }
}
