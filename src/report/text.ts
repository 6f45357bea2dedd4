/** Terminal and Markdown renderings of the comparison (browser-safe: strings in, string out). */
import { COUNTING_NOTES, type ClaimCheck } from '../analysis/index.js';
import { CLAIM_HEADERS, claimCells, comparisonSections, type ComparedModel } from './rows.js';

const CELL_WIDTH = 30;
const NOTE_WIDTH = 100;

/** Greedy word wrap keeping the leading indent on every line; words longer than the width are cut. */
export function wrap(text: string, width: number): string[] {
  const indent = /^\s*/.exec(text)![0];
  if (indent) return wrap(text.slice(indent.length), Math.max(1, width - indent.length)).map((l) => indent + l);
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while (word.length > width) {
      if (line) lines.push(line), (line = '');
      lines.push(word.slice(0, width));
      word = word.slice(width);
    }
    if (!line) line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else lines.push(line), (line = word);
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/** Columns padded to their widest (wrapped) cell; each row becomes one or more lines. */
function gridRows(rows: string[][], widths: number[], indent = ''): string[][] {
  const wrapped = rows.map((r) => widths.map((w, i) => wrap(r[i] ?? '', w)));
  const actual = widths.map((_, i) => Math.max(...wrapped.map((r) => Math.max(...r[i]!.map((l) => l.length)))));
  return wrapped.map((r) => {
    const height = Math.max(...r.map((c) => c.length));
    return Array.from({ length: height }, (_, k) =>
      (indent + r.map((c, i) => (c[k] ?? '').padEnd(actual[i]!)).join('  ')).trimEnd(),
    );
  });
}

function noteLines(): string[] {
  return COUNTING_NOTES.flatMap((n) => wrap(n, NOTE_WIDTH - 2).map((l, i) => (i === 0 ? `- ${l}` : `  ${l}`)));
}

const CLAIM_WIDTHS = [30, 26, 26, 8, 20];

function claimsText(m: ComparedModel): string[] {
  const claims = m.claims ?? [];
  if (claims.length === 0) return [`${m.name}: no published claims on file`];
  const rows = gridRows([CLAIM_HEADERS.slice(0, 5), ...claims.map((c) => claimCells(c).slice(0, 5))], CLAIM_WIDTHS, '  ');
  const out = [m.name, ...rows[0]!];
  claims.forEach((c, i) => {
    out.push(...rows[i + 1]!);
    if (c.note) out.push(...wrap(c.note, NOTE_WIDTH - 6).map((l) => `      ${l}`));
  });
  return out;
}

export function renderTerminal(models: ComparedModel[], opts: { claims?: boolean } = {}): string {
  const widths = [28, ...models.map(() => CELL_WIDTH)];
  const rows: string[][] = [['', ...models.map((m) => m.name)]];
  for (const s of comparisonSections(models)) rows.push([], [s.title], ...s.rows.map((r) => [`  ${r.label}`, ...r.cells]));
  const out = gridRows(rows, widths).flat();
  out.push('', 'What the counts include:', ...noteLines());
  if (opts.claims) {
    out.push('', 'Claims checked (publishers\' statements vs computed):');
    for (const m of models) out.push('', ...claimsText(m));
  }
  return out.join('\n') + '\n';
}

const mdEscape = (s: string) => s.replace(/\|/g, '\\|');
const mdRow = (cells: string[]) => `| ${cells.map(mdEscape).join(' | ')} |`;

export function renderMarkdown(models: ComparedModel[], opts: { claims?: boolean } = {}): string {
  const out: string[] = ['# Model comparison', ''];
  out.push(mdRow(['', ...models.map((m) => `**${m.name}**`)]));
  out.push(`|---|${models.map(() => '---|').join('')}`);
  for (const s of comparisonSections(models)) {
    out.push(mdRow([`**${s.title}**`, ...models.map(() => '')]));
    for (const r of s.rows) out.push(mdRow([r.label.trim(), ...r.cells]));
  }
  out.push('', '## What the counts include', '', ...COUNTING_NOTES.map((n) => `- ${n}`));
  if (opts.claims) out.push('', ...markdownClaims(models));
  return out.join('\n') + '\n';
}

export function markdownClaims(models: ComparedModel[]): string[] {
  const out = ['## Claims checked', ''];
  for (const m of models) {
    const claims: ClaimCheck[] = m.claims ?? [];
    out.push(`### ${m.name}`, '');
    if (claims.length === 0) {
      out.push('No published claims on file.', '');
      continue;
    }
    out.push(mdRow(CLAIM_HEADERS), `|${CLAIM_HEADERS.map(() => '---|').join('')}`);
    for (const c of claims) out.push(mdRow(claimCells(c)));
    out.push('');
  }
  return out;
}
