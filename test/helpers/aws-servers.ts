// Loopback stand-ins for the AWS endpoints ccred's AWS credentials touch, shaped after the
// AWS API references so the real @aws-sdk credential providers talk to them unchanged:
// the container credentials endpoint, STS (query protocol, SigV4 checked), the IAM Identity
// Center portal, and a Bedrock runtime that checks SigV4 and answers Claude Code.
import { randomBytes, randomUUID } from 'node:crypto'
import http from 'node:http'
import { crc32 } from 'node:zlib'
import { Hash } from '@smithy/hash-node'
import { HttpRequest } from '@smithy/protocol-http'
import { SignatureV4 } from '@smithy/signature-v4'
import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose'
import { listenOnLoopback } from './listen.js'

export interface AwsKey {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
  expiration?: Date
  /** Who this key belongs to (an assumed-role ARN, "container", "ini"). */
  principal: string
}

/** Every key the stubs have issued or been told about, so a signature can be checked. */
export class AwsKeyring {
  readonly keys = new Map<string, AwsKey>()

  /** A fresh temporary key ("ASIA…", as STS issues), remembered here. */
  issue(principal: string, lifetimeMs: number): AwsKey & { sessionToken: string; expiration: Date } {
    const key = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `FwoGZXIvYXdzE${randomBytes(48).toString('base64')}`,
      // Whole seconds, as AWS writes them.
      expiration: new Date(Math.floor((Date.now() + lifetimeMs) / 1000) * 1000),
      principal,
    }
    this.keys.set(key.accessKeyId, key)
    return key
  }

  /** A long-term key ("AKIA…"), as an IAM user's access key in ~/.aws/credentials. */
  longTerm(principal: string): AwsKey {
    const key = { accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64'), principal }
    this.keys.set(key.accessKeyId, key)
    return key
  }
}

export interface StubServer<R> {
  url: string
  port: number
  requests: R[]
  close(): Promise<void>
}

async function serve<R>(requests: R[], handler: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void | Promise<void>): Promise<StubServer<R>> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      Promise.resolve(handler(req, Buffer.concat(chunks).toString('utf8'), res)).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(`stub failure: ${(error as Error).message}`)
      })
    })
  })
  const port = await listenOnLoopback(server)
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers })
  res.end(text)
}

// ---------------------------------------------------------------------------------------------
// Container credentials (ECS task roles, EKS Pod Identity)
// https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html
// GET on AWS_CONTAINER_CREDENTIALS_FULL_URI with `Authorization: <AWS_CONTAINER_AUTHORIZATION_TOKEN>`;
// answers {AccessKeyId, SecretAccessKey, Token, Expiration (RFC 3339)}, like the ECS agent
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html).

export interface ContainerRequest {
  path: string
  authorization: string | undefined
  status: number
}

export async function startContainerCredentials(options: { keyring: AwsKeyring; authorizationToken: string; lifetimeMs?: number }): Promise<StubServer<ContainerRequest> & { issued: AwsKey[] }> {
  const requests: ContainerRequest[] = []
  const issued: AwsKey[] = []
  const stub = await serve(requests, (req, _body, res) => {
    const record: ContainerRequest = { path: req.url ?? '', authorization: req.headers.authorization, status: 200 }
    requests.push(record)
    if (req.headers.authorization !== options.authorizationToken) {
      record.status = 401
      sendJson(res, 401, { Code: 'Unauthorized', Message: 'invalid authorization token' })
      return
    }
    const key = options.keyring.issue('arn:aws:sts::123456789012:assumed-role/ecs-task-role/task', options.lifetimeMs ?? 6 * 3_600_000)
    issued.push(key)
    sendJson(res, 200, {
      AccessKeyId: key.accessKeyId,
      SecretAccessKey: key.secretAccessKey,
      Token: key.sessionToken,
      Expiration: key.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      RoleArn: 'arn:aws:iam::123456789012:role/ecs-task-role',
    })
  })
  return { ...stub, issued }
}

// ---------------------------------------------------------------------------------------------
// SigV4, checked the way AWS does: recompute the signature with the caller's secret.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html

export interface SigV4Check {
  ok: boolean
  accessKeyId?: string
  region?: string
  service?: string
  reason?: string
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/

/** Parses the Authorization header only: whose key, which region and service. */
export function parseSigV4(authorization: string | undefined): SigV4Check {
  const match = AUTHORIZATION.exec(authorization ?? '')
  if (match === null) return { ok: false, reason: 'no SigV4 Authorization header' }
  return { ok: true, accessKeyId: match[1]!, region: match[3]!, service: match[4]! }
}

export async function verifySigV4(req: http.IncomingMessage, body: string, keyring: AwsKeyring): Promise<SigV4Check> {
  const authorization = req.headers.authorization
  const match = AUTHORIZATION.exec(authorization ?? '')
  if (match === null) return { ok: false, reason: 'no SigV4 Authorization header' }
  const [, accessKeyId, , region, service, signedHeaderList] = match as unknown as [string, string, string, string, string, string]
  const key = keyring.keys.get(accessKeyId)
  if (key === undefined) return { ok: false, accessKeyId, reason: `unknown access key ${accessKeyId}` }
  if (key.sessionToken !== undefined && req.headers['x-amz-security-token'] !== key.sessionToken) {
    return { ok: false, accessKeyId, reason: 'the security token does not belong to this access key' }
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '')
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'))
  const headers: Record<string, string> = {}
  for (const name of signedHeaderList.split(';')) headers[name] = String(req.headers[name] ?? '')
  const url = new URL(req.url ?? '/', 'http://stub')
  const query: Record<string, string> = {}
  for (const [name, value] of url.searchParams) query[name] = value
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId, secretAccessKey: key.secretAccessKey, ...(key.sessionToken === undefined ? {} : { sessionToken: key.sessionToken }) },
    sha256: Hash.bind(null, 'sha256'),
  })
  const request = new HttpRequest({ method: req.method ?? 'GET', protocol: 'http:', hostname: '127.0.0.1', path: url.pathname, query, headers, body })
  const signed = await signer.sign(request, { signingDate })
  if (signed.headers.authorization !== authorization) return { ok: false, accessKeyId, region, service, reason: 'signature mismatch' }
  return { ok: true, accessKeyId, region, service }
}

// ---------------------------------------------------------------------------------------------
// STS, query protocol (form-encoded POST, XML answers).
// AssumeRole: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
// AssumeRoleWithWebIdentity: https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
// Errors: https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html (ErrorResponse XML)

export interface StsRequest {
  action: string
  params: Record<string, string>
  /** For signed calls: the caller's access key id. */
  callerAccessKeyId?: string
  status: number
  issued?: AwsKey
}

export interface StsOptions {
  keyring: AwsKeyring
  /** Roles that may be assumed; any other gets AccessDenied. */
  roles: string[]
  /**
   * The identity provider AssumeRoleWithWebIdentity trusts (an IAM OIDC provider): a token must
   * be a JWT signed by one of its keys, with its issuer, the audience sts.amazonaws.com and an
   * `exp` still ahead, as STS checks it.
   */
  webIdentity?: { issuer: string; keys: JWTVerifyGetKey }
  /** When set, AssumeRole demands this sts:ExternalId. */
  externalId?: string
  /**
   * A role's MaxSessionDuration in seconds (1 h unless its administrator set up to 12 h). AssumeRole
   * accepts a DurationSeconds from 900 to that ("If you specify a value higher than this setting ...
   * the operation fails", API_AssumeRole.html, DurationSeconds).
   */
  maxSessionDurationS?: Map<string, number>
}

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/'

function stsError(res: http.ServerResponse, status: number, code: string, message: string): void {
  const xml = `<ErrorResponse xmlns="${STS_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
  res.writeHead(status, { 'content-type': 'text/xml', 'content-length': String(Buffer.byteLength(xml)) })
  res.end(xml)
}

function credentialsXml(key: AwsKey & { sessionToken: string; expiration: Date }): string {
  return `<Credentials><AccessKeyId>${key.accessKeyId}</AccessKeyId><SecretAccessKey>${key.secretAccessKey}</SecretAccessKey>` +
    `<SessionToken>${key.sessionToken}</SessionToken><Expiration>${key.expiration.toISOString()}</Expiration></Credentials>`
}

export async function startSts(options: StsOptions): Promise<StubServer<StsRequest>> {
  const requests: StsRequest[] = []
  return serve(requests, async (req, body, res) => {
    const params = Object.fromEntries(new URLSearchParams(body)) as Record<string, string>
    const record: StsRequest = { action: params.Action ?? '', params, status: 200 }
    requests.push(record)
    const fail = (status: number, code: string, message: string) => {
      record.status = status
      stsError(res, status, code, message)
    }
    if (req.method !== 'POST' || params.Version !== '2011-06-15') return fail(400, 'InvalidAction', 'expected a POST with Version=2011-06-15')
    const roleArn = params.RoleArn ?? ''
    const sessionName = params.RoleSessionName ?? ''
    const lifetimeMs = Number(params.DurationSeconds ?? '3600') * 1000
    const assumedArn = `arn:aws:sts::123456789012:assumed-role/${roleArn.split('/').pop()}/${sessionName}`
    if (params.Action === 'AssumeRole') {
      const check = await verifySigV4(req, body, options.keyring)
      if (check.accessKeyId !== undefined) record.callerAccessKeyId = check.accessKeyId
      if (!check.ok) return fail(403, 'SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided (${check.reason})`)
      const caller = options.keyring.keys.get(check.accessKeyId!)!
      if (!options.roles.includes(roleArn) || (options.externalId !== undefined && params.ExternalId !== options.externalId)) {
        return fail(403, 'AccessDenied', `User: ${caller.principal} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`)
      }
      // DurationSeconds: 900 up to the role's maximum session duration (default 3600), else ValidationError.
      const durationS = Number(params.DurationSeconds ?? '3600')
      if (!(durationS >= 900)) return fail(400, 'ValidationError', `1 validation error detected: Value '${params.DurationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`)
      if (durationS > (options.maxSessionDurationS?.get(roleArn) ?? 3600)) return fail(400, 'ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.')
      const key = options.keyring.issue(assumedArn, lifetimeMs)
      record.issued = key
      const xml = `<AssumeRoleResponse xmlns="${STS_NS}"><AssumeRoleResult><AssumedRoleUser><Arn>${assumedArn}</Arn>` +
        `<AssumedRoleId>AROA3XFRBF535PLBIFPI4:${sessionName}</AssumedRoleId></AssumedRoleUser>${credentialsXml(key)}</AssumeRoleResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(Buffer.byteLength(xml)) })
      res.end(xml)
      return
    }
    if (params.Action === 'AssumeRoleWithWebIdentity') {
      // Unsigned by design: the web identity token is the credential.
      if (options.webIdentity === undefined) return fail(400, 'InvalidIdentityToken', 'No OpenIDConnect provider found in your account for the token issuer')
      let subject: string
      try {
        const { payload } = await jwtVerify(params.WebIdentityToken ?? '', options.webIdentity.keys, { issuer: options.webIdentity.issuer, audience: 'sts.amazonaws.com' })
        subject = String(payload.sub)
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) return fail(400, 'ExpiredTokenException', 'Token expired: current date/time is after the token\'s exp')
        return fail(400, 'InvalidIdentityToken', 'The web identity token that was passed could not be validated by AWS.')
      }
      if (!options.roles.includes(roleArn)) {
        return fail(403, 'AccessDenied', `Not authorized to perform sts:AssumeRoleWithWebIdentity on ${roleArn}`)
      }
      const key = options.keyring.issue(assumedArn, lifetimeMs)
      record.issued = key
      const xml = `<AssumeRoleWithWebIdentityResponse xmlns="${STS_NS}"><AssumeRoleWithWebIdentityResult>` +
        `<SubjectFromWebIdentityToken>${subject}</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience>` +
        `<AssumedRoleUser><Arn>${assumedArn}</Arn><AssumedRoleId>AROACLKWSDQRAOEXAMPLE:${sessionName}</AssumedRoleId></AssumedRoleUser>` +
        `${credentialsXml(key)}<Provider>${new URL(options.webIdentity.issuer).host}</Provider></AssumeRoleWithWebIdentityResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`
      res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(Buffer.byteLength(xml)) })
      res.end(xml)
      return
    }
    fail(400, 'InvalidAction', `Could not find operation ${params.Action}`)
  })
}

// ---------------------------------------------------------------------------------------------
// IAM Identity Center (SSO) portal: GetRoleCredentials.
// https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_GetRoleCredentials.html
// GET /federation/credentials?role_name=&account_id= with `x-amz-sso_bearer_token`;
// the answer's expiration is in epoch milliseconds.

export interface SsoRequest {
  roleName: string | null
  accountId: string | null
  status: number
}

export async function startSsoPortal(options: { keyring: AwsKeyring; accessToken: string; lifetimeMs?: number }): Promise<StubServer<SsoRequest>> {
  const requests: SsoRequest[] = []
  return serve(requests, (req, _body, res) => {
    const url = new URL(req.url ?? '/', 'http://stub')
    const record: SsoRequest = { roleName: url.searchParams.get('role_name'), accountId: url.searchParams.get('account_id'), status: 200 }
    requests.push(record)
    if (url.pathname !== '/federation/credentials') {
      record.status = 404
      return sendJson(res, 404, { message: 'not found' })
    }
    if (req.headers['x-amz-sso_bearer_token'] !== options.accessToken) {
      record.status = 401
      return sendJson(res, 401, { message: 'Session token not found or invalid' }, { 'x-amzn-errortype': 'UnauthorizedException' })
    }
    const key = options.keyring.issue(`arn:aws:sts::${record.accountId}:assumed-role/AWSReservedSSO_${record.roleName}/user`, options.lifetimeMs ?? 3_600_000)
    sendJson(res, 200, {
      roleCredentials: {
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        sessionToken: key.sessionToken,
        expiration: key.expiration.getTime(),
      },
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Bedrock runtime, as Claude Code's Bedrock mode calls it:
// InvokeModel https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html
// InvokeModelWithResponseStream https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html
// The stream is AWS event stream encoding (prelude, headers, payload, CRCs):
// https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream
// each `chunk` event carrying {"bytes": base64(<Anthropic streaming event JSON>)}.

export interface BedrockRequest {
  method: string
  path: string
  /** From the SigV4 Authorization header. */
  accessKeyId?: string
  region?: string
  service?: string
  /** The signature recomputed with the key's secret matched. */
  signatureValid: boolean
  bearer?: string
  status: number
}

function eventStreamHeader(name: string, value: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8')
  const valueBytes = Buffer.from(value, 'utf8')
  const header = Buffer.alloc(1 + nameBytes.length + 1 + 2 + valueBytes.length)
  let offset = header.writeUInt8(nameBytes.length, 0)
  offset += nameBytes.copy(header, offset)
  offset = header.writeUInt8(7, offset) // value type 7: string
  offset = header.writeUInt16BE(valueBytes.length, offset)
  valueBytes.copy(header, offset)
  return header
}

/** One event stream message: total length, headers length, prelude CRC, headers, payload, message CRC. */
export function eventStreamMessage(headers: Record<string, string>, payload: Buffer): Buffer {
  const headerBytes = Buffer.concat(Object.entries(headers).map(([name, value]) => eventStreamHeader(name, value)))
  const totalLength = 12 + headerBytes.length + payload.length + 4
  const prelude = Buffer.alloc(8)
  prelude.writeUInt32BE(totalLength, 0)
  prelude.writeUInt32BE(headerBytes.length, 4)
  const preludeCrc = Buffer.alloc(4)
  preludeCrc.writeUInt32BE(crc32(prelude), 0)
  const withoutCrc = Buffer.concat([prelude, preludeCrc, headerBytes, payload])
  const messageCrc = Buffer.alloc(4)
  messageCrc.writeUInt32BE(crc32(withoutCrc), 0)
  return Buffer.concat([withoutCrc, messageCrc])
}

function anthropicEvents(model: string, text: string): unknown[] {
  return [
    { type: 'message_start', message: { id: `msg_bdrk_${randomUUID()}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } },
    { type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 10, outputTokenCount: 2, invocationLatency: 5, firstByteLatency: 1 } },
  ]
}

export async function startBedrockRuntime(options: { keyring: AwsKeyring; accept: (request: BedrockRequest) => boolean; replyText?: string }): Promise<StubServer<BedrockRequest>> {
  const requests: BedrockRequest[] = []
  const replyText = options.replyText ?? 'pong'
  return serve(requests, async (req, body, res) => {
    const url = new URL(req.url ?? '/', 'http://stub')
    const record: BedrockRequest = { method: req.method ?? '', path: url.pathname, signatureValid: false, status: 200 }
    requests.push(record)
    const authorization = req.headers.authorization
    if (typeof authorization === 'string' && authorization.startsWith('Bearer ')) {
      record.bearer = authorization.slice('Bearer '.length)
    } else {
      const parsed = parseSigV4(authorization)
      if (parsed.ok) Object.assign(record, { accessKeyId: parsed.accessKeyId, region: parsed.region, service: parsed.service })
      record.signatureValid = (await verifySigV4(req, body, options.keyring)).ok
    }
    const refuse = (status: number, type: string, message: string) => {
      record.status = status
      sendJson(res, status, { message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` })
    }
    if (req.method === 'HEAD' || req.method === 'GET') {
      res.writeHead(200)
      res.end()
      return
    }
    if (!options.accept(record)) return refuse(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
    const match = /\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/.exec(url.pathname)
    if (req.method !== 'POST' || match === null) return refuse(404, 'UnknownOperationException', `no route ${req.method} ${url.pathname}`)
    const model = decodeURIComponent(match[1]!)
    if (match[2] === 'invoke') {
      return sendJson(res, 200, {
        id: `msg_bdrk_${randomUUID()}`, type: 'message', role: 'assistant', model,
        content: [{ type: 'text', text: replyText }], stop_reason: 'end_turn', stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 2 },
      })
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-bedrock-content-type': 'application/json' })
    for (const event of anthropicEvents(model, replyText)) {
      const payload = Buffer.from(JSON.stringify({ bytes: Buffer.from(JSON.stringify(event)).toString('base64') }))
      res.write(eventStreamMessage({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' }, payload))
    }
    res.end()
  })
}
