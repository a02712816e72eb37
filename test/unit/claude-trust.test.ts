import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { readClaudeWorkspaceTrust } from '../../src/setup/claude-trust.js'

describe('Claude Code\'s workspace trust record (~/.claude.json projects[…].hasTrustDialogAccepted)', () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'ccred-trust-')))
  after(() => rmSync(root, { recursive: true, force: true }))
  const home = join(root, 'home')
  const repo = join(root, 'work', 'repo')
  mkdirSync(home, { recursive: true })
  mkdirSync(join(repo, '.git'), { recursive: true })
  mkdirSync(join(repo, 'packages', 'api'), { recursive: true })
  const record = (projects: Record<string, unknown>) => writeFileSync(join(home, '.claude.json'), JSON.stringify({ projects }))
  const env = { HOME: home }

  it('the folder or one above it up to the git root; only a literal true counts', () => {
    record({ [repo]: { hasTrustDialogAccepted: true } })
    assert.deepEqual(readClaudeWorkspaceTrust(env, join(repo, 'packages', 'api')), { trusted: true, folder: repo, recordPath: join(home, '.claude.json') })
    record({ [repo]: { hasTrustDialogAccepted: 'true' } })
    assert.equal(readClaudeWorkspaceTrust(env, repo).trusted, false)
    record({ [join(root, 'work')]: { hasTrustDialogAccepted: true } })
    assert.equal(readClaudeWorkspaceTrust(env, repo).trusted, false, 'a record above the repository does not count')
  })

  it('CLAUDE_CODE_IGNORE_PERSISTED_TRUST: no record counts; no file: not trusted', () => {
    record({ [repo]: { hasTrustDialogAccepted: true } })
    const ignored = readClaudeWorkspaceTrust({ ...env, CLAUDE_CODE_IGNORE_PERSISTED_TRUST: '1' }, repo)
    assert.equal(ignored.trusted, false)
    assert.match(ignored.ignored ?? '', /^CLAUDE_CODE_IGNORE_PERSISTED_TRUST is set/)
    assert.equal(readClaudeWorkspaceTrust({ ...env, CLAUDE_CODE_IGNORE_PERSISTED_TRUST: '0' }, repo).trusted, true)
    rmSync(join(home, '.claude.json'))
    assert.equal(readClaudeWorkspaceTrust(env, repo).trusted, false)
  })
})
