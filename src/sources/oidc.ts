import { parseOidcTable, refreshTokenName, type OidcOptions } from '../oidc/config.js'
import type { Credential } from '../credential.js'
import type { SecretStore } from '../store/store.js'
import type { FetchContext, SourceDefinition } from './source.js'

/**
 * OpenID Connect SSO. A person signs in once with `ccred login` (the refresh token
 * goes to the secret store); from then on the daemon trades the refresh token for
 * fresh access (or ID) tokens ahead of expiry, storing each rotated refresh token.
 * A CI service account uses client_credentials instead and stores nothing.
 */
export const oidcSource: SourceDefinition<OidcOptions> = {
  kind: 'oidc',
  summary: 'OpenID Connect SSO: ccred login once, then fresh access/ID tokens from the refresh token (or client_credentials in CI)',
  parse(reader) {
    return parseOidcTable(reader)
  },
  references(options) {
    return [options.clientSecret, options.privateKey].filter((ref) => ref !== undefined)
  },
  loginTarget(options) {
    return options
  },
  create(options, deps) {
    // Discovery is cached for the life of this source (a config edit builds a new one); a failure is retried next time.
    let discovered: Promise<import('../oidc/client.js').OidcConfiguration> | undefined
    const configuration = async (ctx: FetchContext) => {
      const { discoverClient } = await import('../oidc/client.js')
      discovered ??= discoverClient(options, (ref, key) => ctx.resolve(ref, key), ctx.profile)
      return discovered.catch((error: unknown) => {
        discovered = undefined
        throw error
      })
    }
    return {
      async fetch(ctx): Promise<Credential> {
        const config = await configuration(ctx)
        const tokens = options.grant === 'client_credentials'
          ? await clientCredentials(config, options, ctx)
          : await refresh(config, options, ctx, deps.store())
        const { credentialFromTokens, exchangeToken } = await import('../oidc/tokens.js')
        return options.exchange === undefined
          ? credentialFromTokens(tokens, options, ctx.clock.now(), ctx.profile)
          : exchangeToken(config, tokens, options, ctx.clock.now(), ctx.profile)
      },
    }
  },
}

async function clientCredentials(config: import('../oidc/client.js').OidcConfiguration, options: OidcOptions, ctx: FetchContext) {
  const [client, { grantParameters, oidcError }] = await Promise.all([import('openid-client'), import('../oidc/client.js')])
  try {
    return await client.clientCredentialsGrant(config, grantParameters(options))
  } catch (error) {
    throw oidcError(error, `profile ${ctx.profile}: client_credentials grant at ${options.issuer} failed`, (code) =>
      code === 'ERR_SOURCE_DENIED' ? `check client_id, the secret or key, scopes and audience in [profiles.${ctx.profile}.oidc]` : 'check the network and the identity provider')
  }
}

/**
 * Trades the stored refresh token for new tokens. A rotated refresh token is
 * written back before the new access token is handed out, so a crash cannot lose
 * the only valid one; invalid_grant means the session ended: sign in again.
 */
async function refresh(config: import('../oidc/client.js').OidcConfiguration, options: OidcOptions, ctx: FetchContext, store: SecretStore) {
  const [client, { describeOidcError, grantParameters, oauthErrorCode, oidcError }, { loginRequired }] = await Promise.all([
    import('openid-client'), import('../oidc/client.js'), import('../oidc/tokens.js'),
  ])
  const name = refreshTokenName(ctx.profile)
  const refreshToken = await store.get(name)
  if (refreshToken === undefined) throw loginRequired(ctx.profile, `not signed in to ${options.issuer} (no refresh token in ${store.describe()})`)
  const parameters = grantParameters(options)
  // The scope of a refresh may not grow; offline_access is already granted.
  delete parameters.scope
  let tokens
  try {
    tokens = await client.refreshTokenGrant(config, refreshToken, parameters)
  } catch (error) {
    if (oauthErrorCode(error) === 'invalid_grant') {
      // Drop the dead token unless a login replaced it meanwhile.
      if ((await store.get(name)) === refreshToken) await store.delete(name)
      throw loginRequired(ctx.profile, `the identity provider ended the session (${describeOidcError(error)})`, error)
    }
    throw oidcError(error, `profile ${ctx.profile}: token refresh at ${options.issuer} failed`, (code) =>
      code === 'ERR_SOURCE_DENIED' ? `check [profiles.${ctx.profile}.oidc]; if it persists run: ccred login ${ctx.profile}` : 'check the network and the identity provider; the cached token is served while it lasts')
  }
  if (tokens.refresh_token !== undefined && tokens.refresh_token !== refreshToken) await store.set(name, tokens.refresh_token)
  return tokens
}
