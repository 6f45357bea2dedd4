/** `owl convert`: a Hugging Face model folder -> a GGUF file llama.cpp (and Owl) can run. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OUT_TYPES, planGguf, type OutType } from '../../gguf/convert.js';
import { archOf } from '../../gguf/metadata.js';
import { syntheticTokenizer, tokenizerToGguf } from '../../gguf/tokenizer.js';
import { readConfigFile } from '../../node/config-file.js';
import { writeGgufFile } from '../../node/gguf-file.js';
import { TensorFiles } from '../../node/tensor-files.js';
import { UsageError, type Command } from '../command.js';
import { progressBar } from '../progress.js';

const help = `owl convert — write a model folder as a GGUF file (llama.cpp's format)

Usage: owl convert MODEL_DIR --to gguf --out FILE.gguf [--type f32|f16|bf16|q8_0] [--tokenizer DIR] [--force]

  --to gguf        output format (only gguf)
  --out FILE       the .gguf file to write
  --type T         f32 (default), f16, bf16 or q8_0 for the weight matrices. As llama.cpp's
                   converter does: norms, biases, 1-D tensors and MoE routers stay f32; with
                   q8_0 a matrix whose rows are not a multiple of 32 is written f16. FP8
                   checkpoints are dequantised; GPT-OSS MXFP4 experts stay MXFP4.
  --tokenizer DIR  take tokenizer.json / tokenizer_config.json / chat_template.jinja from DIR
                   (default: MODEL_DIR). Without any, a synthetic byte-level BPE vocabulary of
                   exactly vocab_size tokens is written so llama.cpp can load the file (test
                   checkpoints); text it produces is meaningless.
  --force          overwrite FILE

Architectures: qwen3, qwen3moe, deepseek2 (DeepSeek-V3: kv_b_proj split into attn_k_b/attn_v_b),
gpt-oss. Tensor names and metadata follow llama.cpp's convert_hf_to_gguf.py. Load the result with
any model command (e.g. owl logits FILE.gguf --ids 1,2,3) or with llama.cpp.`;

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
}

export default {
  name: 'convert',
  summary: 'write a model folder as a GGUF file (f32, f16, bf16 or q8_0) for llama.cpp',
  help,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        to: { type: 'string' },
        out: { type: 'string' },
        type: { type: 'string', default: 'f32' },
        tokenizer: { type: 'string' },
        force: { type: 'boolean', default: false },
      },
    });
    const dir = positionals[0];
    if (!dir) throw new UsageError('a MODEL_DIR argument is required');
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`model folder "${dir}" does not exist`);
    if (values.to !== 'gguf') throw new UsageError(`--to must be "gguf"${values.to ? `, got "${values.to}"` : ' (required)'}`);
    if (!values.out) throw new UsageError('--out FILE.gguf is required');
    if (!values.out.toLowerCase().endsWith('.gguf')) throw new UsageError(`--out must name a .gguf file, got "${values.out}"`);
    if (existsSync(values.out) && !values.force) throw new UsageError(`${values.out} exists (use --force to overwrite)`);
    const type = values.type as OutType;
    if (!OUT_TYPES.includes(type)) throw new UsageError(`--type must be one of ${OUT_TYPES.join(', ')}, got "${values.type}"`);
    const tokDir = values.tokenizer ?? dir;
    if (values.tokenizer !== undefined && !existsSync(join(tokDir, 'tokenizer.json')))
      throw new UsageError(`--tokenizer ${tokDir}: no tokenizer.json there`);

    const spec = readConfigFile(dir);
    const arch = archOf(spec);
    let tok;
    if (existsSync(join(tokDir, 'tokenizer.json'))) {
      const config = existsSync(join(tokDir, 'tokenizer_config.json')) ? readJson(join(tokDir, 'tokenizer_config.json')) : {};
      const jinja = join(tokDir, 'chat_template.jinja');
      tok = tokenizerToGguf(readJson(join(tokDir, 'tokenizer.json')), config, spec.vocabSize, existsSync(jinja) ? readFileSync(jinja, 'utf8') : undefined, tokDir);
    } else {
      const s = syntheticTokenizer(spec.vocabSize, arch, { bos: spec.bosTokenId, eos: spec.eosTokenIds[0] ?? null });
      tok = tokenizerToGguf(s.tokenizerJson, s.tokenizerConfig, spec.vocabSize, undefined, `${dir} (synthetic vocabulary)`);
      console.error(`note: ${dir} has no tokenizer.json; writing a synthetic ${spec.vocabSize}-token byte-level vocabulary`);
    }
    const files = TensorFiles.open(dir);
    try {
      const plan = planGguf(spec, files, type, tok, dir);
      if (plan.unused.length) console.error(`warning: ${plan.unused.length} tensors were not converted (e.g. ${plan.unused[0]})`);
      const bar = progressBar('writing');
      writeGgufFile(values.out, plan.kvs, plan.tensors, bar.update);
      bar.done();
      console.log(`wrote ${values.out}: ${arch}, ${plan.tensors.length} tensors, ${type}`);
    } finally {
      files.close();
    }
    return 0;
  },
} satisfies Command;
