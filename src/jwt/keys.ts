import { createPrivateKey, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto'

/** The JWS algorithms ccred signs with. */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number]

/** What `ccred jwt keygen` can make (asymmetric: a gateway verifies with the public half). */
export const KEYGEN_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const
export type KeygenAlgorithm = (typeof KEYGEN_ALGORITHMS)[number]

export function isSymmetric(alg: JwtAlgorithm): boolean {
  return alg.startsWith('HS')
}

/** RFC 7518 §3.2: an HMAC key at least as long as the hash output; §3.3/§3.5: RSA keys of 2048 bits or more. */
const HMAC_MIN_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 }
const RSA_MIN_BITS = 2048
const EC_CURVES: Record<string, { curve: string; name: string }> = {
  ES256: { curve: 'prime256v1', name: 'P-256' },
  ES384: { curve: 'secp384r1', name: 'P-384' },
}

export interface SigningKey {
  alg: JwtAlgorithm
  /** The private key (or the HMAC secret) that signs. */
  key: KeyObject
  /** The public half as a JWK (with kid, alg, use); undefined for HMAC. */
  publicJwk?: JsonWebKey
  /** The kid a JWK carried, if any. */
  jwkKid?: string
}

/** A key that cannot sign with the algorithm: the caller turns it into an error naming profile and key. */
export class KeyProblem extends Error {}

/**
 * Reads key material as it is stored: a PEM private key (PKCS#8, or PKCS#1 /
 * SEC1), a private JWK (JSON), or for HS* a raw secret (or an "oct" JWK). Checks
 * that the key fits the algorithm, so a mismatch is caught before any gateway sees a token.
 */
export function loadSigningKey(text: string, alg: JwtAlgorithm): SigningKey {
  const trimmed = text.trim()
  if (trimmed.startsWith('{')) return fromJwk(trimmed, alg)
  if (trimmed.startsWith('-----BEGIN')) return fromPem(trimmed, alg)
  if (!isSymmetric(alg)) throw new KeyProblem(`is neither a PEM private key nor a JWK; ${alg} needs ${describeNeed(alg)}`)
  return checked(alg, createSecretKey(Buffer.from(text, 'utf8')))
}

function fromPem(pem: string, alg: JwtAlgorithm): SigningKey {
  if (/-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----/.test(pem)) {
    throw new KeyProblem('is a public key or certificate; signing needs the private key (the gateway gets the public half: ccred jwt jwks <profile>)')
  }
  if (/ENCRYPTED/.test(pem)) throw new KeyProblem('is an encrypted private key; store it unencrypted in the keychain, which protects it (openssl pkcs8 -topk8 -nocrypt)')
  if (isSymmetric(alg)) throw new KeyProblem(`is a PEM private key; ${alg} needs ${describeNeed(alg)}`)
  let key: KeyObject
  try {
    key = createPrivateKey({ key: pem, format: 'pem' })
  } catch (error) {
    throw new KeyProblem(`is not a readable PEM private key (${(error as Error).message.split('\n')[0]})`)
  }
  return checked(alg, key)
}

function fromJwk(json: string, alg: JwtAlgorithm): SigningKey {
  let jwk: JsonWebKey & { kid?: unknown }
  try {
    jwk = JSON.parse(json) as JsonWebKey & { kid?: unknown }
  } catch {
    throw new KeyProblem('starts with "{" but is not valid JSON (expected a JWK)')
  }
  if (typeof jwk !== 'object' || jwk === null || typeof jwk.kty !== 'string') throw new KeyProblem('is JSON but not a JWK (no "kty")')
  if (typeof jwk.alg === 'string' && jwk.alg !== alg) throw new KeyProblem(`is a JWK for ${jwk.alg}, not ${alg}`)
  let key: KeyObject
  try {
    if (jwk.kty === 'oct') {
      if (!isSymmetric(alg)) throw new KeyProblem(`is a symmetric ("oct") JWK; ${alg} needs ${describeNeed(alg)}`)
      if (typeof jwk.k !== 'string') throw new KeyProblem('is an "oct" JWK without "k"')
      key = createSecretKey(Buffer.from(jwk.k, 'base64url'))
    } else {
      if (jwk.d === undefined) throw new KeyProblem('is a public JWK; signing needs the private key (with "d")')
      key = createPrivateKey({ key: jwk, format: 'jwk' })
    }
  } catch (error) {
    if (error instanceof KeyProblem) throw error
    throw new KeyProblem(`is not a usable JWK (${(error as Error).message.split('\n')[0]})`)
  }
  const signing = checked(alg, key)
  if (typeof jwk.kid === 'string' && jwk.kid !== '') signing.jwkKid = jwk.kid
  return signing
}

function checked(alg: JwtAlgorithm, key: KeyObject): SigningKey {
  if (isSymmetric(alg)) {
    if (key.type !== 'secret') throw new KeyProblem(`is ${describeKey(key)}; ${alg} needs ${describeNeed(alg)}`)
    const bytes = key.symmetricKeySize ?? 0
    if (bytes < HMAC_MIN_BYTES[alg]!) throw new KeyProblem(`is ${bytes} bytes; ${alg} needs ${describeNeed(alg)} (RFC 7518 §3.2); make one with: openssl rand -base64 ${HMAC_MIN_BYTES[alg]}`)
    return { alg, key }
  }
  if (key.type !== 'private') throw new KeyProblem(`is ${describeKey(key)}; ${alg} needs ${describeNeed(alg)}`)
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails ?? {}
  const fits =
    alg.startsWith('RS') ? type === 'rsa'
      : alg.startsWith('PS') ? type === 'rsa' || type === 'rsa-pss'
        : alg === 'EdDSA' ? type === 'ed25519'
          : type === 'ec' && details.namedCurve === EC_CURVES[alg]!.curve
  if (!fits) throw new KeyProblem(`is ${describeKey(key)}; ${alg} needs ${describeNeed(alg)}`)
  if ((type === 'rsa' || type === 'rsa-pss') && (details.modulusLength ?? 0) < RSA_MIN_BITS) {
    throw new KeyProblem(`is a ${details.modulusLength}-bit RSA key; ${alg} needs ${RSA_MIN_BITS} bits or more`)
  }
  const publicJwk = createPublicKey(key).export({ format: 'jwk' })
  return { alg, key, publicJwk }
}

function describeNeed(alg: JwtAlgorithm): string {
  if (isSymmetric(alg)) return `a secret of at least ${HMAC_MIN_BYTES[alg]} bytes`
  if (alg.startsWith('RS') || alg.startsWith('PS')) return `an RSA private key of ${RSA_MIN_BITS} bits or more`
  if (alg === 'EdDSA') return 'an Ed25519 private key'
  return `an EC ${EC_CURVES[alg]!.name} private key`
}

/** "an EC P-384 private key", "a secret", "an RSA public key": for messages. */
function describeKey(key: KeyObject): string {
  if (key.type === 'secret') return 'a secret'
  const type = key.asymmetricKeyType
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    return `an EC ${Object.values(EC_CURVES).find((c) => c.curve === curve)?.name ?? curve} ${key.type} key`
  }
  if (type === 'rsa' || type === 'rsa-pss') return `an RSA ${key.type} key`
  if (type === 'ed25519') return `an Ed25519 ${key.type} key`
  return `a ${type ?? 'unknown'} ${key.type} key`
}

/** The public JWK a gateway publishes: key members plus kid, alg and use. */
export function publishedJwk(signing: SigningKey, kid: string | undefined): JsonWebKey & { kid?: string; alg: string; use: 'sig' } {
  if (signing.publicJwk === undefined) throw new TypeError('an HMAC key has no public half')
  return { ...signing.publicJwk, ...(kid === undefined ? {} : { kid }), alg: signing.alg, use: 'sig' }
}
