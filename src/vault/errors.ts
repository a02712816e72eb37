import { CcredError } from '../errors.js'
import { VaultHttpError, VaultTransportError } from './client.js'

/** Vault's own words, one short printable line (they never carry a secret; values are not echoed). */
export function vaultText(errors: string[], status: number): string {
  const text = errors.join('; ').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return (text === '' ? `HTTP ${status}` : text).slice(0, 300)
}

/**
 * Maps a failed Vault call to a CcredError: "vault: read secret/data/x: permission
 * denied". `action` says what ccred tried, `path` the Vault path a policy must allow.
 */
export function vaultError(error: unknown, action: string, address: string, path?: string): CcredError {
  if (error instanceof CcredError) return error
  if (error instanceof VaultHttpError) {
    const text = vaultText(error.errors, error.status)
    const what = `vault: ${action}: ${text} (${error.status})`
    if (error.status === 403) {
      return new CcredError('ERR_SOURCE_DENIED', what, {
        hint: path === undefined
          ? 'check the Vault token and its policies'
          : `a policy must grant "read" on ${path}; check with: vault token capabilities ${path}`,
      })
    }
    if (error.status === 503 && /sealed/i.test(text)) {
      return new CcredError('ERR_SOURCE_UNAVAILABLE', what, { hint: `Vault at ${address} is sealed: its operators must unseal it; ccred keeps serving a value that is still valid` })
    }
    if (error.status === 404) {
      return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: nothing at ${path ?? 'this path'} (404)`, {
        hint: 'check the path (and the namespace); for KV, list with: vault kv list <mount>/<folder>',
      })
    }
    if (error.status === 429) {
      return new CcredError('ERR_SOURCE_UNAVAILABLE', what, { hint: 'Vault is rate-limiting or is a standby node; ccred retries with backoff' })
    }
    return new CcredError('ERR_SOURCE_UNAVAILABLE', what, { hint: `check Vault at ${address} (vault status); ccred retries with backoff` })
  }
  if (error instanceof VaultTransportError) {
    switch (error.reason) {
      case 'timeout':
        return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: Vault at ${address} did not answer (${error.detail})`, {
          hint: 'check the network path to Vault, or raise `timeout` in the vault settings',
        })
      case 'unreachable':
        return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: cannot reach Vault at ${address} (${error.detail})`, {
          hint: 'check the address (address / VAULT_ADDR), the VPN and that Vault is running',
        })
      case 'tls':
        return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: TLS with ${address} failed (${error.detail.slice(0, 200)})`, {
          hint: "set ca_cert (or VAULT_CACERT) to the PEM file of the CA that signed Vault's certificate",
        })
      default:
        return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: ${error.detail.slice(0, 200)}`, { hint: `check Vault at ${address}` })
    }
  }
  const detail = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error)
  return new CcredError('ERR_INTERNAL', `vault: ${action}: ${detail.slice(0, 200)}`, {
    hint: 'this is a bug in ccred; please report it with the output of: ccred status',
    cause: error,
  })
}
