import assert from 'node:assert/strict'
import type { Sandbox } from './sandbox.js'

/** Fails if any secret shows in the given command output, `status --json`, the audit log or the daemon log. */
export async function assertSecretsKept(box: Sandbox, secrets: string[], output = ''): Promise<void> {
  const status = await box.run(['status', '--json'])
  for (const secret of secrets) {
    assert.ok(!output.includes(secret), 'secret in command output')
    assert.ok(!status.stdout.includes(secret), 'secret in status')
    assert.ok(!box.auditLog().includes(secret), 'secret in the audit log')
    assert.ok(!box.daemonLog().includes(secret), 'secret in the daemon log')
  }
}
