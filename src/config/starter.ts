/** What `ccred init` writes: the demo profile active, one commented example per source. */
export const STARTER_CONFIG = `# ccred configuration — https://github.com/ccred/ccred#configuration
# Secrets are never written here: a secret is a reference, "env:NAME",
# "file:PATH" or "keychain:NAME" (keychain = the OS keychain, or the file store
# if you opt in below). Check this file with: ccred profiles

# [broker]
# skew = "60s"             # a credential must outlive the caller's helper TTL by this much
# store = "keychain"       # or "file": secrets in a 0600 file (explicit opt-in, e.g. CI without a keychain)
# idle_exit = "8h"         # the daemon exits after this long without a request
# reissue_interval = "10s" # at most one 401-triggered re-issue per profile in this interval
# audit = true             # JSON lines in the state dir: who got which profile when (never the secret)

# A random demo token (not a real credential), to try ccred and Claude Code out.
[profiles.demo]
source = "demo"
# lifetime = "10m"

# A fixed gateway key, e.g. a LiteLLM virtual key. Store it with: ccred set litellm
# [profiles.litellm]
# source = "static"
# value = "keychain:litellm"        # or "env:LITELLM_KEY", or "file:~/.config/litellm/key"
# header = "authorization"          # "proxy-authorization" prints "Bearer <key>" for proxyAuthHelper
# description = "LiteLLM virtual key"

# Any existing helper script: argv, no shell. It prints the key, or JSON
# {"token": "...", "expires_at": "RFC3339"} / {"token": "...", "expires_in": 3600}.
# [profiles.script]
# source = "exec"
# command = ["/usr/local/bin/get-gateway-key", "--json"]
# lifetime = "55m"                  # used when the output carries no expiry
# timeout = "30s"

# Short-lived JWTs minted by the daemon and signed with your key. Make the key with:
#   ccred jwt keygen litellm-signing-key --alg ES256   (then: ccred jwt jwks litellm)
# [profiles.litellm-jwt]
# source = "jwt"
# [profiles.litellm-jwt.jwt]
# algorithm = "ES256"               # HS256/384/512, RS256/384/512, PS256, ES256/384, EdDSA
# key = "keychain:litellm-signing-key"
# lifetime = "1h"
# claims = { iss = "ccred", aud = "litellm", sub = "\${USER}", team = "engineering" }

# SSO with your company's OpenID Connect identity provider. Sign in once with:
#   ccred login corp      (the refresh token goes to the OS keychain; ccred logout corp ends it)
# [profiles.corp]
# source = "oidc"
# [profiles.corp.oidc]
# issuer = "https://login.example.com"
# client_id = "ccred"                # a public client; redirect URI http://127.0.0.1/callback
# scopes = ["openid", "offline_access"]
# resource = "https://llm-gateway.example.com"   # or audience = "…", as your IdP wants
# token = "access_token"             # or "id_token"

# A CI service account: client_credentials, no browser, no keychain.
# [profiles.ci]
# source = "oidc"
# [profiles.ci.oidc]
# issuer = "https://login.example.com"
# client_id = "ci-claude"
# grant = "client_credentials"
# client_secret = "env:OIDC_CLIENT_SECRET"   # or private_key = "file:/run/secrets/ci.pem"
`
