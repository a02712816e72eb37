import { EXIT_CODES } from '../errors.js'
import { describeDiff, type FilePlan, type UndoResult } from '../setup/file-plan.js'
import { findOnPath, PORTABLE_CCRED_COMMAND } from '../setup/helper-command.js'
import { sanitizeLine } from '../text/sanitize.js'
import { ioPlatform, type Io } from './io.js'

/**
 * What `setup claude` and `setup mcp` print: per file, the diff of exactly what is
 * (or would be) written; a file the repository brought passes the sanitizer.
 */
export function reportPlans(plans: readonly FilePlan[], dryRun: boolean, io: Io): void {
  const changed = plans.filter((plan) => plan.changes.length > 0)
  if (changed.length === 0) io.stdout.write(`${plans[0]!.file.path}: no changes\n`)
  for (const plan of changed) {
    io.stdout.write(`${dryRun ? 'would change' : 'changing'} ${plan.file.path}${plan.file.exists ? '' : ' (new file)'}:\n`)
    for (const line of describeDiff(plan)) io.stdout.write(`  ${sanitizeLine(line)}\n`)
  }
}

/**
 * Claude Code's trust rule, in one line: it runs a project's helpers only in a workspace
 * the user has trusted. A shared file's line runs `ccred` from PATH: said when this PATH has none.
 */
export function reportProjectNotes(what: string, runsFromPath: boolean, io: Io): void {
  io.stderr.write(`ccred: note: Claude Code runs ${what} only after you trust this workspace (its trust prompt); until then it sends no ccred credential\n`)
  if (runsFromPath && findOnPath(PORTABLE_CCRED_COMMAND, io.env, ioPlatform(io)) === undefined) {
    io.stderr.write(`ccred: warning: the project's line runs "${PORTABLE_CCRED_COMMAND}" from PATH, and there is none on this PATH: install ccred globally (npm install -g ccred) on each machine; check with ccred doctor\n`)
  }
}

/** What `--undo` did (or would do) to each file; `command` names the setup for the messages. */
export function reportUndo(results: readonly UndoResult[], command: string, dryRun: boolean, io: Io): number {
  if (results.length === 0) {
    io.stderr.write(`ccred: nothing to undo: ${command} has not changed any file (or it was already restored)\n`)
    return EXIT_CODES.OK
  }
  for (const result of results) {
    if (result.left !== undefined) {
      io.stderr.write(`ccred: ${sanitizeLine(`left ${result.path} as it is: ${result.left.why}${result.left.backupPath === undefined ? '' : `; its version before ${command} is in ${result.left.backupPath}`}`)}\n`)
      continue
    }
    const what = result.removed
      ? `${dryRun ? 'would remove' : 'removed'} ${result.path}, which ${command} had created`
      : `${dryRun ? 'would restore' : 'restored'} ${result.path}${result.original ? ' to exactly what it was' : ''}`
    io.stdout.write(`${what}: ${result.restored.join(', ') || 'nothing'}\n`)
    if (result.keptUserEdits.length > 0) io.stderr.write(`ccred: kept your later edits of ${result.keptUserEdits.join(', ')} in ${result.path}\n`)
  }
  return EXIT_CODES.OK
}
