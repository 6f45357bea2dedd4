/** `owl convert`: a Hugging Face model folder -> a GGUF file llama.cpp (and Owl) can run. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OUT_TYPES, type OutType } from '../../gguf/convert.js';
import { convertToGguf } from '../../node/gguf-file.js';
import { UsageError, type Command } from '../command.js';
import { progressBar } from '../progress.js';

const help = `owl convert — write a model folder as a GGUF file (llama.cpp's format)

Usage: owl convert MODEL_DIR --to gguf --out FILE.gguf [--type f32|f16|bf16|q8_0|q4_0|q4_k] [--tokenizer DIR] [--force]

  --to gguf        output format (only gguf)
  --out FILE       the .gguf file to write
  --type T         f32 (default), f16, bf16, q8_0, q4_0 or q4_k for the weight matrices. As
                   llama.cpp's converter does: norms, biases, 1-D tensors and MoE routers stay
                   f32; with q8_0/q4_0 a matrix whose rows are not a multiple of 32 is written
                   f16. q4_0 and q4_k are ggml's reference quantisers (llama.cpp's converter has
                   neither); q4_k needs rows of 256 and writes others q8_0 (or f16). FP8
                   checkpoints are dequantised; GPT-OSS MXFP4 experts stay MXFP4.
  --tokenizer DIR  take tokenizer.json / tokenizer_config.json / chat_template.jinja from DIR
                   (default: MODEL_DIR). Without any, a synthetic byte-level BPE vocabulary of
                   exactly vocab_size tokens is written so llama.cpp can load the file (test
                   checkpoints); text it produces is meaningless.
  --force          overwrite FILE

Architectures: qwen3, qwen3moe, deepseek2 (DeepSeek-V3: kv_b_proj split into attn_k_b/attn_v_b),
gpt-oss. Tensor names and metadata follow llama.cpp's convert_hf_to_gguf.py. Load the result with
any model command (e.g. owl logits FILE.gguf --ids 1,2,3) or with llama.cpp.`;

export default {
  name: 'convert',
  summary: 'write a model folder as a GGUF file (f32, f16, bf16, q8_0, q4_0 or q4_k) for llama.cpp',
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
    const type = values.type as OutType;
    if (!OUT_TYPES.includes(type)) throw new UsageError(`--type must be one of ${OUT_TYPES.join(', ')}, got "${values.type}"`);
    if (existsSync(values.out) && !values.force) throw new UsageError(`${values.out} exists (use --force to overwrite)`);
    if (values.tokenizer !== undefined && !existsSync(join(values.tokenizer, 'tokenizer.json')))
      throw new UsageError(`--tokenizer ${values.tokenizer}: no tokenizer.json there`);

    const bar = progressBar('writing');
    const r = convertToGguf(dir, values.out, { type, tokenizerDir: values.tokenizer, onProgress: bar.update });
    bar.done();
    if (r.syntheticVocab) console.error(`note: no tokenizer.json in ${dir}; wrote a synthetic ${r.spec.vocabSize}-token byte-level vocabulary`);
    if (r.unused.length) console.error(`warning: ${r.unused.length} tensors were not converted (e.g. ${r.unused[0]})`);
    console.log(`wrote ${values.out}: ${r.arch}, ${r.tensors} tensors, ${type}`);
    return 0;
  },
} satisfies Command;
