import type { CredentialFetcher } from '../client/credentials.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import { awsCredentialExport } from '../output/format.js'
import type { Io } from './io.js'
import { sanitizeLine } from '../text/sanitize.js'

/**
 * Claude Code caches exported AWS credentials until 5 minutes before they
 * expire, but for a whole hour when 6 minutes or less remain. So a value handed
 * out must keep more than 6 minutes (the broker adds its skew on top).
 */
export const AWS_EXPORT_MIN_VALIDITY_MS = 6 * 60_000

/**
 * `ccred aws-export <profile>`: for Claude Code's `awsCredentialExport` setting.
 * Prints `{"Credentials": {"AccessKeyId", "SecretAccessKey", "SessionToken",
 * "Expiration"}}` and one newline, served from the daemon's cache.
 */
export async function runAwsExport(profile: string, options: { refresh?: boolean }, io: Io, fetchCredential: CredentialFetcher): Promise<number> {
  const issued = await fetchCredential(
    // Claude Code re-runs this on its own schedule, never to say a value was refused.
    { profile, callerTtlMs: AWS_EXPORT_MIN_VALIDITY_MS, forceRefresh: options.refresh === true, rejected: false },
    io.env,
    (line) => io.stderr.write(`${sanitizeLine(line)}\n`),
  )
  if (issued.source !== 'aws') {
    throw new CcredError('ERR_USAGE', `profile ${profile} has source "${issued.source}"; aws-export needs a profile with source = "aws"`, {
      hint: `use an aws profile (ccred profiles lists them), or ccred get ${profile} for a gateway key`,
    })
  }
  if (issued.kind !== 'aws') {
    throw new CcredError('ERR_USAGE', `profile ${profile} makes a Bedrock API key (token = "bedrock-api-key"), not AWS credentials`, {
      hint: `set token = "credentials" in [profiles.${profile}.aws] for awsCredentialExport, or use ccred env ${profile} for AWS_BEARER_TOKEN_BEDROCK`,
    })
  }
  if (issued.warning !== undefined) io.stderr.write(`ccred: warning: ${sanitizeLine(issued.warning)}\n`)
  io.stdout.write(`${awsCredentialExport(issued)}\n`)
  return EXIT_CODES.OK
}
