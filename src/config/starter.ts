/** What `ccred init` writes: the demo profile active, one commented example per source. */
export const STARTER_CONFIG = `# ccred configuration — https://github.com/ccred/ccred#configuration
# Secrets are never written here: a secret is a reference, "env:NAME",
# "file:PATH", "keychain:NAME" (keychain = the OS keychain, or the file store
# if you opt in below) or "vault:PATH#field" (through [vault] below).
# Check this file with: ccred profiles

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
#   ccred jwt keygen litellm-signing-key --alg ES256   (then: ccred jwt jwks litellm-jwt)
# [profiles.litellm-jwt]
# source = "jwt"
# [profiles.litellm-jwt.jwt]
# algorithm = "ES256"               # HS256/384/512, RS256/384/512, PS256, ES256/384, EdDSA
# key = "keychain:litellm-signing-key"
# lifetime = "1h"
# claims = { iss = "ccred", aud = "litellm", sub = "\${USER}", team = "engineering" }

# Google Cloud: an OAuth access token (e.g. LiteLLM's Vertex pass-through) or an ID
# token for a gateway behind IAP / Cloud Run. Without credentials: Application
# Default Credentials (gcloud auth application-default login, GOOGLE_APPLICATION_CREDENTIALS,
# or the metadata server).
# [profiles.vertex]
# source = "gcp"
# [profiles.vertex.gcp]
# token = "access_token"           # or "id_token" with audience = "https://gateway.example.com"
# scopes = ["https://www.googleapis.com/auth/cloud-platform"]
# impersonate = "gateway-caller@my-project.iam.gserviceaccount.com"   # optional
# lifetime = "1h"                  # impersonated access tokens, up to "12h"
# credentials = "file:~/keys/ci-key.json"   # optional: a key or workload identity federation config

# AWS: credentials for Claude Code's awsCredentialExport ("ccred aws-export bedrock"),
# or a short-term Bedrock API key (token = "bedrock-api-key"). Without profile: the
# default AWS chain (env, SSO/ini, web identity, container, instance metadata).
# [profiles.bedrock]
# source = "aws"
# [profiles.bedrock.aws]
# profile = "dev-sso"              # a profile in ~/.aws/config (SSO, ini, credential_process)
# region = "us-east-1"
# role_arn = "arn:aws:iam::123456789012:role/claude-bedrock"   # optional assume-role
# duration = "1h"                  # the role session, "15m" to "12h"
# token = "credentials"            # or "bedrock-api-key" (needs region; lifetime up to "12h")

# HashiCorp Vault: the connection (default: VAULT_ADDR and the token of
# VAULT_TOKEN or ~/.vault-token, like the vault CLI) and a profile reading a field.
# [vault]
# address = "https://vault.example.com"
# auth = { method = "token" }       # laptop: after \`vault login\`
# auth = { method = "approle", role_id = "env:VAULT_ROLE_ID", secret_id = "env:VAULT_SECRET_ID" }   # CI
# auth = { method = "jwt", role = "gha-claude", jwt = "github-actions", audience = "https://vault.example.com" }
# auth = { method = "kubernetes", role = "claude-runner" }
# auth = { method = "aws", role = "ci-runner", header_value = "vault.example.com" }
#
# [profiles.vault-key]
# source = "vault"
# [profiles.vault-key.vault]
# path = "secret/litellm/claude-code"   # KV v1 or v2 (detected), or a dynamic secret's path
# field = "api_key"
# refresh = "5m"                    # KV: read again this often (a rotated key is picked up)

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

# The Claude apps gateway (\`claude gateway\`): the gateway's URL is all it takes (ccred
# reads its OAuth metadata; it offers only the device code flow and ignores client_id).
# Sign in with: ccred login claude-gw; then: ccred setup claude claude-gw --gateway <the same URL>
# [profiles.claude-gw]
# source = "oidc"
# [profiles.claude-gw.oidc]
# issuer = "https://claude-gateway.internal.example.com"
`
