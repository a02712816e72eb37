// The [vault] table, vault profiles and vault: references as the config loader reads them.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseConfig } from '../../src/profiles/load.js'
import { parseReference, resolveReference, splitVaultTarget } from '../../src/config/references.js'
import { STARTER_CONFIG } from '../../src/config/starter.js'
import { CcredError } from '../../src/errors.js'
import type { VaultConnectionConfig } from '../../src/vault/config.js'
import { vaultResource } from '../../src/vault/shared.js'

const meta = { path: '/cfg/config.toml', fromFile: true, stamp: 's' }
const parse = (text: string) => parseConfig(text, '/cfg/config.toml', meta)

async function profileError(text: string, name = 'v'): Promise<string> {
  const config = await parse(text)
  const error = config.invalidProfiles.get(name)
  assert.ok(error !== undefined, `profile ${name} should be invalid`)
  assert.equal(error.code, 'ERR_CONFIG')
  return error.message
}

const vaultProfile = (inner: string) => `[profiles.v]\nsource = "vault"\n[profiles.v.vault]\n${inner}\n`

describe('vault config', () => {
  it('[vault] is the default connection; a profile without connection keys uses it, one with some inherits the rest', async () => {
    const config = await parse(`
[vault]
address = "https://vault.example.com:8200/"
namespace = "team-a"
timeout = "5s"
auth = { method = "approle", role_id = "env:VAULT_ROLE_ID", secret_id = "keychain:vault-secret-id" }

${vaultProfile('path = "secret/litellm/claude-code"\nfield = "api_key"')}
[profiles.own]
source = "vault"
[profiles.own.vault]
path = "database/creds/gw"
field = "password"
auth = { method = "kubernetes", role = "gateway" }
`)
    assert.equal(config.invalidProfiles.size, 0, [...config.invalidProfiles.values()].map((e) => e.message).join('\n'))
    assert.equal(config.shared.of(vaultResource).address, 'https://vault.example.com:8200')
    assert.equal(config.shared.of(vaultResource).timeoutMs, 5000)
    const v = config.profiles.get('v')!.source.options as { connection: VaultConnectionConfig; refreshMs: number }
    assert.equal(v.connection, config.shared.of(vaultResource), 'the same connection object: one token')
    assert.equal(v.refreshMs, 5 * 60_000)
    const own = config.profiles.get('own')!.source.options as { connection: VaultConnectionConfig }
    assert.equal(own.connection.address, 'https://vault.example.com:8200')
    assert.equal(own.connection.namespace, 'team-a')
    assert.deepEqual(own.connection.auth, { method: 'kubernetes', mount: 'kubernetes', role: 'gateway', tokenPath: '/var/run/secrets/kubernetes.io/serviceaccount/token' })
    assert.equal(own.connection.where, 'profiles.own.vault')
    assert.equal(config.profiles.get('v')!.source.storedSecretName(), 'vault-secret-id', 'ccred set v stores the secret_id')
  })

  it('without [vault]: VAULT_ADDR and a token at use, like the vault CLI', async () => {
    const config = await parse(vaultProfile('path = "secret/x"\nfield = "k"'))
    assert.deepEqual(config.shared.of(vaultResource), { where: 'vault', insecureSkipTlsVerify: false, allowInsecureHttp: false, timeoutMs: 10_000, auth: { method: 'token' }, authWhere: 'vault.auth' })
  })

  it('refuses literal secrets, vault: inside Vault\'s own auth, unknown methods and keys, and says what is expected', async () => {
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfield = "k"\nauth = { method = "approle", role_id = "1234-abcd", secret_id = "env:S" }')),
      /profiles\.v\.vault\.auth\.role_id: expected a reference "env:NAME", "file:PATH" or "keychain:NAME"; secrets are never written in the config file/)
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfield = "k"\nauth = { method = "token", token = "vault:secret/t#token" }')),
      /profiles\.v\.vault\.auth\.token: a vault: reference cannot hold what logs in to Vault itself/)
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfield = "k"\nauth = { method = "ldap" }')),
      /profiles\.v\.vault\.auth\.method: expected one of "token", "approle", "jwt", "kubernetes", "aws", got "ldap"/)
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfield = "k"\nauth = { method = "jwt", role = "r", jwt = "env:J", audience = "x" }')),
      /profiles\.v\.vault\.auth\.audience: only applies with jwt = "github-actions"/)
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfield = "k"\nauth = { method = "kubernetes" }')), /profiles\.v\.vault\.auth\.role: is required/)
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfield = "k"\nkv_version = 3')), /profiles\.v\.vault\.kv_version: expected 1 or 2/)
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfield = "k"\nmount = "secret"')), /profiles\.v\.vault\.mount: only applies with kv_version/)
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfield = "k"\naddress = "vault.example.com"')), /profiles\.v\.vault\.address: expected an http\(s\) URL/)
    assert.match(await profileError(vaultProfile('path = "secret/x"\nfeild = "k"')), /profiles\.v\.vault\.field: is required.*profiles\.v\.vault\.feild: unknown key/)
    assert.match(await profileError('[profiles.v]\nsource = "vault"\n'), /profiles\.v\.vault: is required \(a \[profiles\.v\.vault\] table\)/)
    await assert.rejects(parse('[vault]\nadress = "https://v"\n'), (error: CcredError) => error.code === 'ERR_CONFIG' && /vault\.adress: unknown key/.test(error.message))
    await assert.rejects(parse('[vault]\nauth = { method = "aws", role = "r", region = 5 }\n'), /vault\.auth\.region: expected a non-empty string/)
  })

  it('aws auth takes the shared AWS credential keys; insecure TLS is a loud, explicit switch', async () => {
    const config = await parse(`[vault]\naddress = "https://v.example.com"\ninsecure_skip_tls_verify = true\nauth = { method = "aws", role = "ci", header_value = "v.example.com", profile = "dev", region = "eu-west-1" }\n`)
    assert.deepEqual(config.shared.of(vaultResource).auth, { method: 'aws', mount: 'aws', role: 'ci', serverId: 'v.example.com', credentials: { profile: 'dev', region: 'eu-west-1' } })
    assert.equal(config.shared.of(vaultResource).insecureSkipTlsVerify, true)
  })

  it('a [vault] edit gives vault profiles and profiles with vault: references a new cache key, and no other profile', async () => {
    const body = `${vaultProfile('path = "secret/x"\nfield = "k"')}\n[profiles.ref]\nsource = "static"\nvalue = "vault:secret/x#k"\n\n[profiles.helper]\nsource = "exec"\ncommand = ["/bin/get-key"]\nenv = { KEY = "vault:secret/x#k" }\n\n[profiles.plain]\nsource = "static"\nvalue = "env:K"\n`
    const a = await parse(`[vault]\naddress = "https://a.example.com"\n${body}`)
    const b = await parse(`[vault]\naddress = "https://b.example.com"\n${body}`)
    for (const name of ['v', 'ref', 'helper']) assert.notEqual(a.profiles.get(name)!.hash, b.profiles.get(name)!.hash, name)
    assert.equal(a.profiles.get('plain')!.hash, b.profiles.get('plain')!.hash)
  })
})

describe('starter config', () => {
  it('its commented vault example is valid once uncommented (one auth line at a time)', async () => {
    // The vault example runs from "# [vault]" to the blank line that ends it (other examples follow).
    const fromVault = STARTER_CONFIG.slice(STARTER_CONFIG.indexOf('# [vault]'))
    const vaultPart = fromVault.slice(0, fromVault.indexOf('\n\n') === -1 ? undefined : fromVault.indexOf('\n\n'))
    const authLines = vaultPart.split('\n').filter((line) => line.startsWith('# auth = '))
    assert.equal(authLines.length, 5)
    for (const auth of authLines) {
      const text = vaultPart.split('\n').filter((line) => !line.startsWith('# auth = ') || line === auth).map((line) => line.replace(/^# ?/, '')).join('\n')
      const config = await parse(text)
      assert.deepEqual([...config.invalidProfiles.values()].map((e) => e.message), [], auth)
      assert.equal(config.profiles.get('vault-key')!.sourceKind, 'vault')
    }
  })
})

describe('vault: references', () => {
  it('parse as PATH#field and need both', () => {
    assert.deepEqual(parseReference('vault:secret/litellm/signing#private_key'), { kind: 'vault', target: 'secret/litellm/signing#private_key' })
    assert.deepEqual(splitVaultTarget('/secret/a/b/#f'), { path: 'secret/a/b', field: 'f' })
    for (const bad of ['vault:secret/x', 'vault:#f', 'vault:secret/x#', 'vault:secret x#f']) assert.equal(parseReference(bad), undefined, bad)
  })

  it('resolve through the injected reader, or say they cannot be read where there is none', async () => {
    const deps = { env: {}, homeDir: '/h', readFile: async () => '', storeGet: async () => undefined, storeDescription: 'test' }
    const ref = parseReference('vault:secret/x#k')!
    await assert.rejects(resolveReference(ref, 'profiles.p.value', deps, 'p'), /profiles\.p\.value: vault: references cannot be read here/)
    const seen: string[] = []
    const value = await resolveReference(ref, 'profiles.p.value', { ...deps, readVault: async (target, where) => { seen.push(`${target} @ ${where}`); return 'v' } }, 'p')
    assert.equal(value, 'v')
    assert.deepEqual(seen, ['secret/x#k @ profiles.p.value'])
  })
})
