/** RFC 4180 CSV reading for `sentiment,message` files: quoted fields, "" escapes, CRLF, optional header. */

export function parseCsv(content: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  const s = content.replace(/^\uFEFF/, '');
  while (i < s.length) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"' && field.length === 0) { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' || c === '\n') {
      row.push(field); field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c; i++;
  }
  if (field.length > 0 || row.length > 0) { row.push(field); rows.push(row); }
  return rows;
}

export interface LabelledRow { sentiment: -1 | 0 | 1; message: string }

/**
 * Reads `sentiment,message` rows. A header is recognised by a non-numeric first field; if the header
 * names the columns in another order ("message,sentiment"), that order is used. Rows with a label
 * outside -1/0/1 are skipped and counted.
 */
export function readLabelledCsv(content: string): { rows: LabelledRow[]; skipped: number } {
  const all = parseCsv(content);
  let si = 0, mi = 1;
  if (all.length > 0 && Number.isNaN(Number.parseFloat(all[0][0]))) {
    const h = all[0].map((x) => x.trim().toLowerCase());
    if (h.includes('sentiment') && h.includes('message')) { si = h.indexOf('sentiment'); mi = h.indexOf('message'); }
    all.shift();
  }
  const rows: LabelledRow[] = [];
  let skipped = 0;
  for (const r of all) {
    const v = Number.parseFloat((r[si] ?? '').trim());
    if (v !== -1 && v !== 0 && v !== 1) { skipped++; continue; }
    // a message with unquoted commas would split: rejoin the remaining fields
    const message = mi === r.length - 1 || mi !== 1 ? (r[mi] ?? '') : r.slice(1).join(',');
    rows.push({ sentiment: v as -1 | 0 | 1, message });
  }
  return { rows, skipped };
}

/** The dev set's fixed held-out part: 0-based data row index i with i % 10 >= 7 (30%). */
export function isHeldOut(i: number): boolean {
  return i % 10 >= 7;
}
