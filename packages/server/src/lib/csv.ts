/**
 * The one CSV writer of the API's exports (a project's access review, the audit log): RFC 4180
 * quoting, CRLF line ends, and cells a spreadsheet would run as a formula neutralised as OWASP
 * advises ("CSV injection"): a cell starting with = + - @, a tab or a carriage return gets a
 * leading ' — an audit log holds names that anyone with a SCIM token or an invitation can choose.
 */

export type CsvValue = string | number | boolean | null | undefined;

export function csvCell(value: CsvValue): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One line, CRLF included. */
export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** A whole document from a header and rows given one by one (for streaming). */
export async function* csvLines(
  header: readonly string[],
  rows: AsyncIterable<readonly CsvValue[]> | Iterable<readonly CsvValue[]>,
): AsyncGenerator<string> {
  yield csvLine(header);
  for await (const row of rows) yield csvLine(row);
}

/** Whether a GET asks for CSV: `?format=csv`, or no format and an Accept that names text/csv. */
export function wantsCsv(format: string | undefined, accept: string | undefined): boolean {
  return format === 'csv' || (format === undefined && /\btext\/csv\b/.test(accept ?? ''));
}
