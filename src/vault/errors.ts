import { CcredError } from '../errors.js'
import { sanitizeLine } from '../text/sanitize.js'
import { VaultHttpError, VaultTransportError } from './client.js'

/** Vault's own words, one short printable line (they never carry a secret; values are not echoed). */
export function vaultText(errors: string[], status: number): string {
  const text = sanitizeLine(errors.join('; ').replace(/\s+/g, ' ').trim())
  return (text === '' ? `HTTP ${status}` : text).slice(0, 300)
}

/**
 * Maps a failed Vault call to a CcredError: "vault: read secret/data/x: permission
 * denied". `action` says what ccred tried, `path` the Vault path a policy must allow.
 * The HTTP status travels as `detail.httpStatus` (callers act on it, never on the message), the
 * Vault client's error as `cause`.
 */
export function vaultError(error: unknown, action: string, address: string, path?: string): CcredError {
  if (error instanceof CcredError) return error
  if (error instanceof VaultHttpError) {
    const text = vaultText(error.errors, error.status)
    const what = `vault: ${action}: ${text} (${error.status})`
    const wrapped = { cause: error, detail: { httpStatus: error.status } }
    if (error.status === 403) {
      return new CcredError('ERR_SOURCE_DENIED', what, {
        ...wrapped,
        hint: path === undefined
          ? 'check the Vault token and its policies'
          : `a policy must grant "read" on ${path}; check with: vault token capabilities ${path}`,
      })
    }
    if (error.status === 503 && /sealed/i.test(text)) {
      return new CcredError('ERR_SOURCE_UNAVAILABLE', what, { ...wrapped, hint: `Vault at ${address} is sealed: its operators must unseal it; ccred keeps serving a value that is still valid` })
    }
    if (error.status === 404) {
      return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: nothing at ${path ?? 'this path'} (404)`, {
        ...wrapped,
        hint: 'check the path (and the namespace); for KV, list with: vault kv list <mount>/<folder>',
      })
    }
    if (error.status === 429) {
      return new CcredError('ERR_SOURCE_UNAVAILABLE', what, { ...wrapped, hint: 'Vault is rate-limiting or is a standby node; ccred retries with backoff' })
    }
    return new CcredError('ERR_SOURCE_UNAVAILABLE', what, { ...wrapped, hint: `check Vault at ${address} (vault status); ccred retries with backoff` })
  }
  if (error instanceof VaultTransportError) {
    switch (error.reason) {
      case 'timeout':
        return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: Vault at ${address} did not answer (${error.detail})`, {
          cause: error,
          hint: 'check the network path to Vault, or raise `timeout` in the vault settings',
        })
      case 'unreachable':
        return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: cannot reach Vault at ${address} (${error.detail})`, {
          cause: error,
          hint: 'check the address (address / VAULT_ADDR), the VPN and that Vault is running',
        })
      case 'tls':
        return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: TLS with ${address} failed (${sanitizeLine(error.detail, 200)})`, {
          cause: error,
          hint: "set ca_cert (or VAULT_CACERT) to the PEM file of the CA that signed Vault's certificate",
        })
      default:
        return new CcredError('ERR_SOURCE_UNAVAILABLE', `vault: ${action}: ${sanitizeLine(error.detail, 200)}`, { cause: error, hint: `check Vault at ${address}` })
    }
  }
  const detail = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error)
  return new CcredError('ERR_INTERNAL', `vault: ${action}: ${sanitizeLine(detail, 200)}`, {
    hint: 'this is a bug in ccred; please report it with the output of: ccred status',
    cause: error,
  })
}
