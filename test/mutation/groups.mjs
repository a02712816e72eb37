// What each mutation group mutates and which compiled tests (under dist/test) judge it.
export const MUTATION_GROUPS = {
  budget: {
    mutate: ['src/broker/budget.ts'],
    tests: ['unit/budget.test.js', 'unit/broker.test.js', 'unit/soak.test.js'],
  },
  broker: {
    mutate: ['src/broker/**/*.ts', '!src/broker/budget.ts', '!src/broker/validate.ts'],
    tests: ['unit/budget.test.js', 'unit/broker.test.js', 'unit/broker-hooks.test.js', 'unit/broker-soft-refresh.test.js', 'unit/broker-budget-keeps.test.js', 'unit/soak.test.js', 'unit/caller-identity.test.js', 'unit/caller-kinds.test.js'],
  },
  exec: {
    mutate: ['src/sources/exec.ts', 'src/sources/exec-invocation.ts'],
    // Not hostile-config: its property runs cost ~20 s a mutant (593 mutants: ~4 h).
    tests: ['unit/exec-source.test.js', 'unit/config.test.js', 'unit/platforms.test.js'],
  },
  oidc: {
    mutate: ['src/oidc/**/*.ts'],
    tests: ['unit/oidc.test.js', 'integration/oauth-metadata.test.js', 'integration/oidc-discovery.test.js', 'integration/oidc.test.js'],
  },
  rendezvous: {
    mutate: ['src/rendezvous/**/*.ts', 'src/trust/**/*.ts', 'src/config/file-trust.ts'],
    tests: ['unit/trust-checks.test.js', 'unit/rendezvous.test.js', 'unit/secret-files.test.js', 'unit/platforms.test.js', 'integration/trust-boundary.test.js', 'integration/rendezvous.test.js'],
  },
  headers: {
    mutate: [
      'src/output/headers.ts', 'src/config/header-templates.ts', 'src/broker/validate.ts', 'src/output/shell-env.ts', 'src/text/**/*.ts',
    ],
    // messages: the only judge of text/did-you-mean.ts.
    tests: ['unit/header-grammar.test.js', 'unit/shell-quote.test.js', 'unit/redact.test.js', 'unit/sanitize.test.js', 'unit/messages.test.js', 'unit/hooks.test.js', 'unit/credential.test.js', 'unit/platforms.test.js', 'integration/terminal-output.test.js'],
  },
}
