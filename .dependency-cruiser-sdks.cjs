/**
 * The packages the warm `get` path must not load: each costs tens of milliseconds on every
 * helper run. A scope (`@aws-sdk`) stands for every package in it. One list, read by
 * .dependency-cruiser.cjs (the warm-get-path-no-sdk rule) and by test/unit/layering.test.ts
 * (the check of the bundled bin).
 */
module.exports = [
  'jose',
  'node-vault',
  'google-auth-library',
  '@aws-sdk',
  '@aws',
  '@smithy',
  'openid-client',
  'commander',
  'smol-toml',
  'valibot',
  'open',
  // The relay's HTTP client: only the daemon loads it, when a route opens.
  'undici',
]
