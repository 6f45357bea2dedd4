/** `owl compare`: architecture numbers of presets and local configs side by side; all file I/O lives here. */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FLAGSHIPS, PRESETS } from '../../config/index.js';
import { resolveModelSpec } from '../../node/config-file.js';
import {
  analyzeModel,
  checkClaims,
  claimsEntryFor,
  DEFAULT_CONTEXTS,
  KV_DTYPES,
  parseKvDtype,
  kvCacheBytesPerToken,
} from '../../analysis/index.js';
import { loadModelDir } from '../../node/model-dir.js';
import type { ModelSpec } from '../../config/spec.js';
import { renderHtml, renderMarkdown, renderTerminal, type ComparedModel } from '../../report/index.js';
import { UsageError, type Command } from '../command.js';

const FORMATS = ['table', 'markdown', 'json', 'html'] as const;
type Format = (typeof FORMATS)[number];
const FORMAT_OF_EXT: Record<string, Format> = { '.md': 'markdown', '.json': 'json', '.html': 'html', '.htm': 'html' };

const HELP = `owl compare [MODEL...] [options]

Compare model architectures from their config.json: parameters (total, active, non-embedding),
KV cache, FLOPs per token, long-context method, MoE shape, checkpoint size.

MODEL is a preset name (case-insensitive, with or without the organisation), a config.json file,
or a model folder holding one; any mix. With no MODEL: the flagship of each family
(${FLAGSHIPS.join(', ')}).

Presets: ${PRESETS.map((p) => p.name).join(', ')}

Options:
  -f, --format FORMAT   table (default), markdown, json or html (html: one self-contained file
                        with charts; inferred from --out's extension .md/.json/.html when not given)
  -o, --out FILE        write to FILE instead of standard output
      --claims          add the publishers' claims lined up against the computed numbers
                        (always included in html; in json as a "claims" array per model)
      --kv-dtype DTYPE  KV-cache element type: ${KV_DTYPES.join(', ')} (default bf16)
      --contexts LIST   context lengths for the KV-cache sizes (default ${DEFAULT_CONTEXTS.join(',')})
      --context N       context length for FLOPs per token (default 4096)
      --measure         MODEL must be model folders with weights: load each, run a prompt, and
                        report the KV-cache bytes per token the engine really allocates (f32 cache)
                        beside the analysis for an f32 cache ("measured_kv" in json)
  -h, --help            this help

Examples:
  owl compare
  owl compare gpt-oss-20b Qwen3-30B-A3B ./path/config.json
  owl compare --format json --kv-dtype fp8 DeepSeek-V3
  owl compare --claims --out report.html`;

function positiveInt(option: string, s: string): number {
  const n = Number(s.trim());
  if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`--${option}: expected a positive integer, got "${s}"`);
  return n;
}

function parseFormat(format: string | undefined, out: string | undefined): Format {
  if (format === undefined) return (out && FORMAT_OF_EXT[extname(out).toLowerCase()]) || 'table';
  if ((FORMATS as readonly string[]).includes(format)) return format as Format;
  throw new UsageError(`--format: unknown format "${format}" (expected ${FORMATS.join(', ')})`);
}

/** chart.js's UMD bundle, found through Node's resolver (its package exports do not list the file). */
function chartJsSource(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');
}

/** Load the model folder and measure the cache the engine allocates (f32 values). */
function measureKvCache(dir: string, spec: ModelSpec) {
  const { model } = loadModelDir(dir);
  const cache = model.newCache();
  // Past any sliding window, so ring layers have stopped growing.
  const tokens = Math.min(spec.maxPositions, Math.max((spec.slidingWindow ?? 0) + 8, 16));
  model.forward(Array.from({ length: tokens }, (_, i) => i % spec.vocabSize), cache, { logits: 'last' });
  const measured = cache.bytesPerToken();
  const analysed = kvCacheBytesPerToken(spec, 'f32');
  if (measured !== analysed) console.error(`owl compare: ${dir}: engine allocates ${measured} B/token, analysis says ${analysed}`);
  return { cache_dtype: 'f32', tokens, bytes_per_token: measured, allocated_bytes: cache.allocatedBytes(), analysis_bytes_per_token: analysed, agrees: measured === analysed };
}

const command: Command = {
  name: 'compare',
  summary: 'compare model architectures: parameters, KV cache, FLOPs, context, MoE, checkpoint size',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        format: { type: 'string', short: 'f' },
        out: { type: 'string', short: 'o' },
        claims: { type: 'boolean', default: false },
        'kv-dtype': { type: 'string', default: 'bf16' },
        contexts: { type: 'string', default: DEFAULT_CONTEXTS.join(',') },
        context: { type: 'string', default: '4096' },
        measure: { type: 'boolean', default: false },
      },
    });
    const format = parseFormat(values.format, values.out);
    let kvDtype;
    try {
      kvDtype = parseKvDtype(values['kv-dtype']);
    } catch (e) {
      throw new UsageError(`--kv-dtype: ${(e as Error).message}`);
    }
    const contexts = values.contexts.split(',').map((s) => positiveInt('contexts', s));
    const flopsContext = positiveInt('context', values.context);
    const refs = positionals.length > 0 ? positionals : [...FLAGSHIPS];
    const withClaims = values.claims || format === 'html';

    const models: ComparedModel[] = refs.map((ref) => {
      const spec = resolveModelSpec(ref);
      const analysis = analyzeModel(spec, { kvDtype, contexts, flopsContext });
      const compared: ComparedModel = withClaims ? { ...analysis, claims: checkClaims(spec, analysis, claimsEntryFor(spec.source)) } : analysis;
      return values.measure ? { ...compared, measured_kv: measureKvCache(ref, spec) } : compared;
    });

    let text: string;
    if (format === 'json') text = JSON.stringify(models, null, 2) + '\n';
    else if (format === 'markdown') text = renderMarkdown(models, { claims: values.claims });
    else if (format === 'html') text = renderHtml(models, { chartJs: chartJsSource() });
    else text = renderTerminal(models, { claims: values.claims });

    if (values.out) {
      try {
        writeFileSync(values.out, text);
      } catch (e) {
        throw new UsageError(`--out: cannot write ${values.out}: ${(e as Error).message}`);
      }
      console.error(`owl compare: wrote ${values.out} (${format}, ${models.length} models)`);
    } else process.stdout.write(text);
    return 0;
  },
};

export default command;
