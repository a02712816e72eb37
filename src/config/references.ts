import { CcredError } from '../errors.js'
import { readTrustedFile, type TrustedFileKind } from './file-trust.js'
import { HOST_OS } from '../platform.js'

/**
 * A reference names where a secret lives; the secret itself never sits in the
 * config file. `keychain:` reads the configured secret store (the OS keychain, or
 * the opt-in file store); `vault:PATH#field` reads a field of a Vault secret
 * through the `[vault]` connection.
 */
export type ReferenceKind = 'env' | 'file' | 'keychain' | 'vault'

export interface Reference {
  kind: ReferenceKind
  target: string
}

export const REFERENCE_KINDS: readonly ReferenceKind[] = ['env', 'file', 'keychain', 'vault']

export function parseReference(text: string): Reference | undefined {
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  const kind = text.slice(0, colon)
  const target = text.slice(colon + 1)
  if (!(REFERENCE_KINDS as readonly string[]).includes(kind) || target === '') return undefined
  if (kind === 'env' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(target)) return undefined
  if (kind === 'vault' && splitVaultTarget(target) === undefined) return undefined
  return { kind: kind as ReferenceKind, target }
}

/** "secret/litellm/key#api_key" → path and field; undefined unless both are there. */
export function splitVaultTarget(target: string): { path: string; field: string } | undefined {
  const hash = target.lastIndexOf('#')
  const path = target.slice(0, hash).replace(/^\/+|\/+$/g, '')
  const field = target.slice(hash + 1)
  if (hash <= 0 || path === '' || field === '' || /\s/.test(path)) return undefined
  return { path, field }
}

export function formatReference(ref: Reference): string {
  return `${ref.kind}:${ref.target}`
}

export interface ReferenceDeps {
  env: Record<string, string | undefined>
  readFile(path: string): Promise<string>
  homeDir: string
  /** Reads a secret from the configured store; undefined when the name is not stored. */
  storeGet(name: string): Promise<string | undefined>
  storeDescription: string
  /**
   * Reads `vault:PATH#field` through the `[vault]` connection. Injected so this
   * module stays light: only the daemon's service loads the Vault client.
   */
  readVault?(target: string, where: string): Promise<string>
}

const MAX_FILE_SECRET_BYTES = 64 * 1024

/** A file a profile reads a secret from: the config's rules (file-trust.ts), 64 KiB at most. */
export const SECRET_FILE: TrustedFileKind = {
  label: 'secret file',
  code: 'ERR_REFERENCE',
  maxBytes: MAX_FILE_SECRET_BYTES,
  fixPath: 'point the reference at a regular file that holds only the secret',
  fixSize: 'a secret file holds only the secret: point the reference at that file',
  stickyParentIsFine: true,
}

/**
 * Reads a secret file under the config's rules: yours or root's, not writable by group
 * or others (nor any directory above it), a regular file (a FIFO is refused at once,
 * never waited on), at most 64 KiB (one byte more is read, never the whole of a large file).
 */
export async function readSecretFile(path: string): Promise<string> {
  return readTrustedFile(path, SECRET_FILE)
}

/** `~/` expands to the home directory everywhere; `~\\` too on Windows, where it is how a path under %USERPROFILE% is written. */
export function expandHomePath(target: string, homeDir: string, os: NodeJS.Platform = HOST_OS): string {
  return target.startsWith('~/') || (os === 'win32' && target.startsWith('~\\')) ? homeDir + target.slice(1) : target
}

/**
 * Resolves a reference to its secret. `where` names the config key for messages
 * ("profiles.demo.value"); messages never include the secret.
 */
export async function resolveReference(ref: Reference, where: string, deps: ReferenceDeps, profile: string): Promise<string> {
  switch (ref.kind) {
    case 'env': {
      // Own variables only: env:toString must not find Object.prototype's function.
      const value = Object.hasOwn(deps.env, ref.target) ? deps.env[ref.target] : undefined
      if (typeof value !== 'string' || value === '') {
        throw new CcredError('ERR_REFERENCE', `${where}: environment variable ${ref.target} is not set in the daemon's environment`, {
          hint: `export ${ref.target} in the shell, then run: ccred daemon stop   (the daemon keeps the environment it started with)`,
        })
      }
      return value
    }
    case 'file': {
      const path = expandHomePath(ref.target, deps.homeDir)
      let text: string
      try {
        text = await deps.readFile(path)
      } catch (error) {
        if (error instanceof CcredError) throw new CcredError(error.code, `${where}: ${error.message}`, { cause: error, ...(error.hint === undefined ? {} : { hint: error.hint }) })
        const code = (error as NodeJS.ErrnoException).code
        const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code ?? 'error'})`
        throw new CcredError('ERR_REFERENCE', `${where}: file ${path} ${why}`, { cause: error, hint: `create it with the secret on one line (chmod 600), or change ${where}` })
      }
      if (Buffer.byteLength(text) > MAX_FILE_SECRET_BYTES) {
        throw new CcredError('ERR_REFERENCE', `${where}: file ${path} is larger than 64 KiB; it does not look like a secret`, { hint: `point ${where} at a file that holds only the secret` })
      }
      // A trailing newline is how editors save files; anything else stays and is checked later.
      return text.replace(/\r?\n$/, '')
    }
    case 'keychain': {
      const value = await deps.storeGet(ref.target)
      if (value === undefined) {
        throw new CcredError('ERR_REFERENCE', `${where}: no secret named "${ref.target}" in ${deps.storeDescription}`, {
          hint: `store it with: ccred set ${profile}`,
        })
      }
      return value
    }
    case 'vault': {
      if (deps.readVault === undefined) {
        throw new CcredError('ERR_REFERENCE', `${where}: vault: references cannot be read here`, { hint: 'use env:, file: or keychain: for this key' })
      }
      return deps.readVault(ref.target, where)
    }
  }
}
