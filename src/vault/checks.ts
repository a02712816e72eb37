import { formatDurationMs } from '../config/duration.js'
import { CcredError } from '../errors.js'
import type { VaultBody } from './client.js'
import type { ReadOptions, VaultConnection } from './connections.js'
import { vaultError } from './errors.js'

export type VaultCheckName = 'reachable' | 'unsealed' | 'token' | 'policy'

/** One finding for `ccred doctor`: what was checked, whether it passed, what was seen, what to do. */
export interface VaultCheck {
  name: VaultCheckName
  ok: boolean
  detail: string
  hint?: string
  /** The Vault path a policy check is about. */
  path?: string
}

/**
 * Checks a Vault connection the way an operator would by hand: `vault status`
 * (reachable, sealed), `vault token lookup` (valid, TTL), and
 * `vault token capabilities <path>` for each secret the profiles read. Stops at
 * the first check the next ones depend on. Never prints a secret.
 */
export async function checkVault(connection: VaultConnection, paths: { path: string; options?: ReadOptions }[]): Promise<VaultCheck[]> {
  const checks: VaultCheck[] = []
  let client
  try {
    client = await connection.client()
  } catch (error) {
    const failure = error instanceof CcredError ? error : vaultError(error, 'connect', connection.address ?? '?')
    return [{ name: 'reachable', ok: false, detail: failure.message, ...(failure.hint === undefined ? {} : { hint: failure.hint }) }]
  }
  const address = client.options.address

  // https://developer.hashicorp.com/vault/api-docs/system/seal-status (no token needed)
  let seal: VaultBody
  try {
    seal = (await client.call((vault, options) => vault.status({ requestOptions: options }))) as VaultBody
  } catch (error) {
    const failure = vaultError(error, 'seal-status', address)
    return [{ name: 'reachable', ok: false, detail: failure.message, ...(failure.hint === undefined ? {} : { hint: failure.hint }) }]
  }
  checks.push({ name: 'reachable', ok: true, detail: `Vault at ${address} answers${typeof seal.version === 'string' ? ` (version ${seal.version})` : ''}` })
  if (seal.sealed === true) {
    checks.push({ name: 'unsealed', ok: false, detail: `Vault at ${address} is sealed`, hint: 'its operators must unseal it; until then no secret can be read' })
    return checks
  }
  checks.push({ name: 'unsealed', ok: true, detail: 'Vault is unsealed' })

  // https://developer.hashicorp.com/vault/api-docs/auth/token#lookup-a-token-self
  let token: string
  let lookup: VaultBody
  try {
    token = await connection.tokens.token()
    lookup = (await client.call((vault, options) => vault.tokenLookupSelf({ requestOptions: options }), token)) as VaultBody
  } catch (error) {
    const failure = error instanceof CcredError ? error : vaultError(error, 'token lookup-self', address)
    checks.push({ name: 'token', ok: false, detail: failure.message, ...(failure.hint === undefined ? {} : { hint: failure.hint }) })
    return checks
  }
  const data = (lookup.data ?? {}) as { ttl?: unknown; renewable?: unknown; policies?: unknown }
  const ttlS = typeof data.ttl === 'number' ? data.ttl : 0
  const policies = Array.isArray(data.policies) ? data.policies.join(', ') : '?'
  checks.push({
    name: 'token',
    ok: true,
    detail: `token from auth method "${connection.config.auth.method}" is valid, ${ttlS > 0 ? `expires in ${formatDurationMs(ttlS * 1000)}${data.renewable === true ? ' (renewable)' : ' (not renewable)'}` : 'does not expire'}; policies: ${policies}`,
  })

  // https://developer.hashicorp.com/vault/api-docs/system/capabilities-self
  for (const { path, options } of paths) {
    try {
      const { apiPath } = await connection.locate(path, options)
      const answer = (await client.call((vault, requestOptions) => vault.write('sys/capabilities-self', { paths: [apiPath] }, requestOptions), token)) as VaultBody
      const caps = capabilitiesOf(answer, apiPath)
      const ok = caps.includes('root') || caps.includes('read')
      checks.push({
        name: 'policy',
        ok,
        path: apiPath,
        detail: ok ? `the token may read ${apiPath}` : `the token's policies deny reading ${apiPath} (capabilities: ${caps.join(', ') || 'none'})`,
        ...(ok ? {} : { hint: `ask for a policy with path "${apiPath}" { capabilities = ["read"] }` }),
      })
    } catch (error) {
      const failure = error instanceof CcredError ? error : vaultError(error, `capabilities of ${path}`, address, path)
      checks.push({ name: 'policy', ok: false, path, detail: failure.message, ...(failure.hint === undefined ? {} : { hint: failure.hint }) })
    }
  }
  return checks
}

function capabilitiesOf(answer: VaultBody, path: string): string[] {
  const fromData = (answer.data as Record<string, unknown> | null | undefined)?.[path]
  const value = Array.isArray(fromData) ? fromData : answer[path] ?? answer.capabilities
  return Array.isArray(value) ? value.filter((c): c is string => typeof c === 'string') : []
}
