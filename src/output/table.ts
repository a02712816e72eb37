import { sanitizeLine } from '../text/sanitize.js'

/**
 * Left-aligned columns two spaces apart, for `status`, `profiles` and `doctor`.
 * Cells quote config and upstream text (names, descriptions, errors), so each
 * passes the terminal sanitizer.
 */
export function formatTable(table: string[][]): string {
  const rows = table.map((row) => row.map((cell) => sanitizeLine(cell)))
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)))
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n'
}
