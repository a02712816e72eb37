import { accountName } from '../../account.js'
import { createAwsCredentialProvider, type AwsCredentialProvider } from '../../aws/credentials.js'
import type { VaultAuthConfig } from '../config.js'
import { login, type AuthMethod } from './login.js'

type AwsAuthConfig = Extract<VaultAuthConfig, { method: 'aws' }>

const STS_BODY = 'Action=GetCallerIdentity&Version=2011-06-15'

/**
 * `method = "aws"` (IAM): signs an sts:GetCallerIdentity request with the
 * caller's AWS credentials and hands it to Vault, which sends it to STS to learn
 * who is asking. The credentials come from the shared AWS module (the default
 * chain, or a named profile, optionally a role on top); they never reach Vault.
 * https://developer.hashicorp.com/vault/api-docs/auth/aws#login
 * https://developer.hashicorp.com/vault/docs/auth/aws#iam-auth-method
 */
export function awsAuth(config: AwsAuthConfig): AuthMethod {
  let provider: Promise<AwsCredentialProvider> | undefined
  return async (deps) => {
    provider ??= createAwsCredentialProvider(config.credentials, deps.env.USER ?? accountName())
    const credentials = await (await provider)()
    const signed = await signGetCallerIdentity(credentials, config.credentials.region, config.serverId)
    return login(deps, 'aws', config.role, `check that role "${config.role}" binds this IAM principal (bound_iam_principal_arn) and header_value matches the server's iam_server_id_header_value`, (vault, options) =>
      vault.awsIamLogin({ role: config.role, mount_point: config.mount, ...signed, requestOptions: options }))
  }
}

export interface SignedStsRequest {
  iam_http_request_method: string
  iam_request_url: string
  iam_request_body: string
  iam_request_headers: string
}

/**
 * The four login fields, base64 as Vault expects. The global endpoint signs for
 * us-east-1; a region uses its regional endpoint (Vault's sts_region must match).
 */
export async function signGetCallerIdentity(
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  region: string | undefined,
  serverId: string | undefined,
): Promise<SignedStsRequest> {
  const [{ SignatureV4 }, { Hash }, { HttpRequest }] = await Promise.all([
    import('@smithy/signature-v4'),
    import('@smithy/hash-node'),
    import('@smithy/protocol-http'),
  ])
  const hostname = region === undefined ? 'sts.amazonaws.com' : `sts.${region}.amazonaws.com`
  const headers: Record<string, string> = {
    host: hostname,
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
  }
  // Signed, so a request made for one Vault server cannot be replayed at another.
  if (serverId !== undefined) headers['x-vault-aws-iam-server-id'] = serverId
  const request = new HttpRequest({ method: 'POST', protocol: 'https:', hostname, path: '/', headers, body: STS_BODY })
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
    },
    region: region ?? 'us-east-1',
    service: 'sts',
    sha256: Hash.bind(null, 'sha256'),
  })
  const signedRequest = await signer.sign(request)
  const signedHeaders: Record<string, string[]> = {}
  for (const [name, value] of Object.entries(signedRequest.headers)) signedHeaders[name] = [value]
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64')
  return {
    iam_http_request_method: 'POST',
    iam_request_url: b64(`https://${hostname}/`),
    iam_request_body: b64(STS_BODY),
    iam_request_headers: b64(JSON.stringify(signedHeaders)),
  }
}
