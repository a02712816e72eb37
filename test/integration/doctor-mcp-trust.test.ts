// A project .mcp.json server with a ccred headersHelper: Claude Code runs the helper only once
// the workspace is trusted (its record: projects["<folder>"].hasTrustDialogAccepted in
// ~/.claude.json, for the folder or one above it up to the git root). `ccred doctor` says which,
// in one line, and takes Claude Code's record as the user's consent: the helper then runs
// without --trust-project, as Claude Code would run it.
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Sandbox } from '../helpers/sandbox.js'

interface Row { check: string; verdict: string; detail: string }

const boxes: Sandbox[] = []
after(async () => { for (const box of boxes) await box.cleanup() })

/** A git checkout (with a sub-folder) whose .mcp.json names a ccred helper that leaves a marker when it runs. */
function checkout(): { box: Sandbox; project: string; marker: string } {
  const box = new Sandbox({ MCP_VALUE: 'mcp-value-5d2e' })
  boxes.push(box)
  box.writeConfig('[profiles.mcp]\nsource = "static"\nvalue = "env:MCP_VALUE"\n')
  const project = realpathSync(box.file('.')) + '/checkout'
  mkdirSync(join(project, '.git'), { recursive: true })
  mkdirSync(join(project, 'sub'), { recursive: true })
  const marker = box.file('helper-ran')
  writeFileSync(join(project, '.mcp.json'), JSON.stringify({
    mcpServers: { team: { type: 'http', url: 'http://127.0.0.1:9/mcp', headersHelper: `touch ${marker}; '${process.execPath}' '${box.cliPath}' get mcp --format headers` } },
  }))
  return { box, project, marker }
}

function recordTrust(box: Sandbox, folder: string, accepted: boolean): void {
  writeFileSync(join(box.home, '.claude.json'), JSON.stringify({ numStartups: 3, projects: { [folder]: { allowedTools: [], hasTrustDialogAccepted: accepted } } }))
}

async function rows(box: Sandbox, cwd: string): Promise<{ rows: Row[]; text: string }> {
  const run = await box.run(['doctor', '--json'], { cwd })
  return { rows: (JSON.parse(run.stdout) as { checks: Row[] }).checks, text: run.stdout + run.stderr }
}
const find = (all: Row[], check: string) => all.find((r) => r.check === check)

describe('ccred doctor: the workspace trust of a project MCP server', () => {
  it('not trusted by Claude Code: one line says the helper runs only once the workspace is trusted; the helper is not run', async () => {
    const { box, project, marker } = checkout()
    recordTrust(box, project, false)
    const { rows: all, text } = await rows(box, project)
    assert.deepEqual(find(all, 'mcp team workspace trust'), {
      check: 'mcp team workspace trust',
      verdict: 'warn',
      detail: `Claude Code runs the headersHelper of a server from ${project}/.mcp.json only once the workspace is trusted, and it has not trusted ${project}: until then it connects without these headers; run claude here once and accept the trust dialog`,
    }, text)
    assert.match(find(all, 'mcp team headersHelper')!.detail, /^\[UNTRUSTED_WORKSPACE\] not run: /)
    assert.equal(existsSync(marker), false, 'the helper ran without anyone\'s consent')
  })

  it('trusted by Claude Code (its record in ~/.claude.json): said so, and the helper runs without --trust-project', async () => {
    const { box, project, marker } = checkout()
    recordTrust(box, project, true)
    const { rows: all, text } = await rows(box, project)
    assert.deepEqual(find(all, 'mcp team workspace trust'), {
      check: 'mcp team workspace trust',
      verdict: 'ok',
      detail: `Claude Code runs the headersHelper of a server from ${project}/.mcp.json only once the workspace is trusted; it has trusted ${project} (projects["${project}"].hasTrustDialogAccepted in ${join(box.home, '.claude.json')})`,
    }, text)
    assert.equal(find(all, 'mcp team headersHelper')?.verdict, 'ok', text)
    assert.equal(existsSync(marker), true, text)
    assert.ok(!text.includes('[UNTRUSTED_WORKSPACE]'), text)
  })

  it('a sub-folder counts under its trusted repository root; a record above the git root does not', async () => {
    const inside = checkout()
    recordTrust(inside.box, inside.project, true)
    writeFileSync(join(inside.project, 'sub', '.mcp.json'), JSON.stringify({ mcpServers: { sub: { type: 'http', url: 'http://127.0.0.1:9/mcp', headersHelper: `'${process.execPath}' '${inside.box.cliPath}' get mcp --format headers` } } }))
    assert.equal(find((await rows(inside.box, join(inside.project, 'sub'))).rows, 'mcp sub workspace trust')?.verdict, 'ok')

    const above = checkout()
    recordTrust(above.box, realpathSync(above.box.root), true)
    const { rows: all } = await rows(above.box, above.project)
    assert.equal(find(all, 'mcp team workspace trust')?.verdict, 'warn')
    assert.equal(existsSync(above.marker), false)
  })
})
