import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { withInProcessService } from '../client/in-process.js'
import { purgeCachedValue } from '../client/purge.js'
import { CcredError, EXIT_CODES } from '../errors.js'
import { KEYGEN_ALGORITHMS, loadSigningKey, publishedJwk, type KeygenAlgorithm } from '../jwt/keys.js'
import { keyIdFor } from '../sources/jwt.js'
import { usageError, type Io } from './io.js'

export interface KeygenOptions {
  alg?: string
  force?: boolean
}

const KEY_NAME = /^[\w.@-]{1,128}$/

/**
 * `ccred jwt keygen <key-name>`: a new signing key pair. The private key goes only
 * to the secret store (never to a file or stdout); stdout gets the public JWK a
 * gateway trusts.
 */
export async function runJwtKeygen(keyName: string, options: KeygenOptions, io: Io): Promise<number> {
  const alg = (options.alg ?? 'ES256') as KeygenAlgorithm
  if (!KEYGEN_ALGORITHMS.includes(alg)) {
    throw usageError(`--alg must be one of ${KEYGEN_ALGORITHMS.join(', ')}, not "${String(options.alg).slice(0, 20)}"`, 'ES256 is small and fast; RS256 fits gateways that only know RSA; HS* secrets are not generated here (openssl rand -base64 64 | ccred set <profile>)')
  }
  if (!KEY_NAME.test(keyName)) throw usageError(`key name "${keyName.slice(0, 40)}" must be 1 to 128 letters, digits or ._@-`, 'e.g. ccred jwt keygen litellm-signing-key')
  return withInProcessService(io.env, async (service) => {
    // Loading the config first means a broken config is reported before anything is written.
    const config = await service.config.current()
    const store = service.runtime.store()
    if (!options.force && (await store.get(keyName)) !== undefined) {
      throw new CcredError('ERR_USAGE', `a secret named "${keyName}" already exists in ${store.describe()}; replacing it would break every gateway that trusts its public key`, {
        hint: `pick another name, or replace it on purpose with: ccred jwt keygen ${keyName} --alg ${alg} --force`,
      })
    }
    const privateKey = generate(alg)
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    await store.set(keyName, pem)
    // The public key printed is the one of the key as stored: a gateway must never trust a key whose private half is gone.
    const stored = await store.get(keyName)
    if (stored !== pem) {
      throw new CcredError('ERR_KEYCHAIN_UNAVAILABLE', `the private key was written to ${store.describe()} but ${stored === undefined ? 'cannot be read back' : 'reads back different'}; no public key printed (it would have no usable private key)`, {
        hint: 'fix the secret store (ccred status says which binding serves it), or opt in to a file store with `store = "file"` under [broker]; then run: ccred jwt keygen ' + `${keyName} --alg ${alg} --force`,
      })
    }
    const signing = loadSigningKey(stored, alg)
    const users = [...config.profiles.values()].filter((p) => p.source.storedSecretName() === keyName).map((p) => p.name)
    for (const profile of users) await purgeCachedValue(profile, io.env, (line) => io.stderr.write(`${line}\n`))
    const jwk = publishedJwk(signing, await keyIdFor(undefined, signing))
    io.stdout.write(`${JSON.stringify(jwk, null, 2)}\n`)
    io.stderr.write(
      `ccred: stored the ${alg} private key as keychain:${keyName} in ${store.describe()}; stdout has the public JWK.\n` +
        (users.length > 0
          ? `ccred: profiles using it: ${users.join(', ')} (cached tokens dropped); publish their JWKS with: ccred jwt jwks ${users[0]}\n`
          : `ccred: use it in a profile:\n  [profiles.NAME]\n  source = "jwt"\n  [profiles.NAME.jwt]\n  algorithm = "${alg}"\n  key = "keychain:${keyName}"\n`),
    )
    return EXIT_CODES.OK
  })
}

function generate(alg: KeygenAlgorithm): KeyObject {
  switch (alg) {
    case 'ES256': return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
    case 'RS256': return generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey
    case 'EdDSA': return generateKeyPairSync('ed25519').privateKey
  }
}
