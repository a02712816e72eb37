import { randomUUID } from 'node:crypto'
import { hostname, userInfo } from 'node:os'
import type { TableReader } from '../config/fields.js'
import { compact, durationMs, fromReader, INVALID, map, nested, oneOf, parseWith, reference, string, table, type Infer } from '../config/schema.js'
import { formatReference } from '../config/references.js'
import { CcredError } from '../errors.js'
import { renderClaim, templateProblems, type ClaimTemplate, type ClaimValue, type TemplateVariables } from '../jwt/claims.js'
import { isSymmetric, JWT_ALGORITHMS, KeyProblem, loadSigningKey, publishedJwk, type SigningKey } from '../jwt/keys.js'
import type { TokenCredential } from '../credential.js'
import type { FetchContext, SourceDefinition } from './source.js'

export const DEFAULT_JWT_LIFETIME_MS = 3_600_000
const MIN_LIFETIME_MS = 30_000
const MAX_LIFETIME_MS = 24 * 3_600_000
/** Claims ccred sets on every token; a template may not override them. */
const MINTED_CLAIMS = ['iat', 'nbf', 'exp', 'jti']

/** `[profiles.x.jwt]`. */
const jwtTable = table(
  {
    alg: (jwt) => {
      if (jwt.has('algorithm')) return oneOf('algorithm', JWT_ALGORITHMS, 'ES256')(jwt)
      jwt.allow('algorithm')
      jwt.problem('algorithm', `is required (one of ${JWT_ALGORITHMS.join(', ')})`)
      return INVALID
    },
    key: reference('key', { required: true }),
    /** Explicit kid; otherwise a JWK's own kid, or the RFC 7638 thumbprint of the public key (none for HS*). */
    kid: string('kid'),
    typ: string('typ', { fallback: 'JWT' }),
    lifetimeMs: durationMs('lifetime', { fallbackMs: DEFAULT_JWT_LIFETIME_MS, minMs: MIN_LIFETIME_MS, maxMs: MAX_LIFETIME_MS }),
    claims: fromReader(readClaims),
  },
  { closed: true },
)
const jwtOptions = map(nested('jwt', jwtTable, { required: true }), compact)
export type JwtOptions = Infer<typeof jwtOptions>

/**
 * Mints short-lived JWTs signed with a key the company controls (the hand-made
 * version is a helper running `jwt encode --exp=+1h …` on every call). The daemon
 * caches each token and mints the next one ahead of expiry.
 */
export const jwtSource: SourceDefinition<JwtOptions> = {
  kind: 'jwt',
  summary: 'mints short-lived JWTs signed with your key (jose): HS*, RS*, PS256, ES256/384, EdDSA',
  parse(reader) {
    return parseWith(jwtOptions, reader)
  },
  storedSecretName(options) {
    return options.key.kind === 'keychain' ? options.key.target : undefined
  },
  validateStoredSecret(options, value) {
    try {
      loadSigningKey(value, options.alg)
    } catch (error) {
      if (error instanceof KeyProblem) return `the key ${error.message}`
      throw error
    }
    return undefined
  },
  references(options) {
    return [options.key]
  },
  publishedKeys(options, ctx) {
    return jwksFor(options, ctx)
  },
  create(options) {
    return {
      async fetch(ctx) {
        const signing = await signingKeyFor(options, ctx)
        return mint(options, signing, ctx)
      },
    }
  },
}

function readClaims(jwt: TableReader): Record<string, ClaimTemplate> {
  const raw = jwt.raw('claims')
  if (raw === undefined) return {}
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Date) {
    jwt.problem('claims', 'expected a table of claims, e.g. claims = { sub = "${USER}", team = "engineering" }')
    return {}
  }
  const claims = raw as Record<string, unknown>
  for (const name of MINTED_CLAIMS) {
    if (name in claims) jwt.problem(`claims.${name}`, `is set by ccred on every token${name === 'exp' ? ' (use lifetime)' : ''}; remove it`)
  }
  for (const name of ['iss', 'sub'] as const) {
    if (name in claims && typeof claims[name] !== 'string') jwt.problem(`claims.${name}`, 'expected a string')
  }
  const aud = claims.aud
  if (aud !== undefined && typeof aud !== 'string' && !(Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string'))) {
    jwt.problem('claims.aud', 'expected a string or a non-empty list of strings')
  }
  for (const problem of templateProblems(claims, jwt.path('claims'))) jwt.problems.push(problem)
  return claims as Record<string, ClaimTemplate>
}

/** Reads the key from its reference and checks it fits the algorithm; a misfit is a config error naming profile and key. */
export async function signingKeyFor(options: JwtOptions, ctx: FetchContext): Promise<SigningKey> {
  const text = await ctx.resolve(options.key, 'jwt.key')
  try {
    return loadSigningKey(text, options.alg)
  } catch (error) {
    if (!(error instanceof KeyProblem)) throw error
    const where = `profiles.${ctx.profile}.jwt.key`
    throw new CcredError('ERR_CONFIG', `${where} (${formatReference(options.key)}) ${error.message}`, {
      cause: error,
      hint: isSymmetric(options.alg)
        ? `store a long random secret: openssl rand -base64 64 | ccred set ${ctx.profile}`
        : `make a fitting key with: ccred jwt keygen ${options.key.kind === 'keychain' ? options.key.target : '<name>'} --alg ${options.alg.startsWith('ES') ? 'ES256' : options.alg === 'EdDSA' ? 'EdDSA' : 'RS256'}; or set algorithm in [profiles.${ctx.profile}.jwt] to fit the key`,
    })
  }
}

export async function keyIdFor(explicitKid: string | undefined, signing: SigningKey): Promise<string | undefined> {
  if (explicitKid !== undefined) return explicitKid
  if (signing.jwkKid !== undefined) return signing.jwkKid
  if (signing.publicJwk === undefined) return undefined
  const { calculateJwkThumbprint } = await import('jose')
  return calculateJwkThumbprint(signing.publicJwk as Parameters<typeof calculateJwkThumbprint>[0], 'sha256')
}

/** The JWKS a gateway admin publishes for this profile's key. */
export async function jwksFor(options: JwtOptions, ctx: FetchContext): Promise<{ keys: object[] }> {
  if (isSymmetric(options.alg)) {
    throw new CcredError('ERR_USAGE', `profile ${ctx.profile} signs with ${options.alg}, a shared secret: there is no public key to publish`, {
      hint: 'give the gateway the same secret out of band, or switch the profile to ES256/RS256/EdDSA (ccred jwt keygen)',
    })
  }
  const signing = await signingKeyFor(options, ctx)
  return { keys: [publishedJwk(signing, await keyIdFor(options.kid, signing))] }
}

async function mint(options: JwtOptions, signing: SigningKey, ctx: FetchContext): Promise<TokenCredential> {
  const { SignJWT } = await import('jose')
  const vars: TemplateVariables = {
    user: () => userInfo().username,
    hostname: () => hostname(),
    env: (name, where) => ctx.resolve({ kind: 'env', target: name }, where),
  }
  const claims: Record<string, ClaimValue> = {}
  for (const [name, template] of Object.entries(options.claims)) claims[name] = await renderClaim(template, vars, `jwt.claims.${name}`)
  const kid = await keyIdFor(options.kid, signing)
  const issuedAtS = Math.floor(ctx.clock.now() / 1000)
  const expiresAtS = issuedAtS + Math.floor(options.lifetimeMs / 1000)
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg, typ: options.typ, ...(kid === undefined ? {} : { kid }) })
    .setIssuedAt(issuedAtS)
    .setNotBefore(issuedAtS)
    .setExpirationTime(expiresAtS)
    .setJti(randomUUID())
    .sign(signing.key)
  const meta: Record<string, string> = { algorithm: options.alg, key: formatReference(options.key) }
  if (kid !== undefined) meta.kid = kid
  return { kind: 'token', value: token, expiresAt: new Date(expiresAtS * 1000), meta }
}
