/** `owl init`: a model folder with a real config and random weights of the right shapes. */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findPreset } from '../../config/presets/index.js';
import { parseConfig } from '../../config/parse.js';
import { checkpointLayout } from '../../models/checkpoint-layout.js';
import { planDtype, randomTensor, rng, type InitDtype } from '../../models/random-weights.js';
import { readConfigFile } from '../../node/config-file.js';
import { writeSafetensorsLazy } from '../../node/tensor-files.js';
import { shapeSize } from '../../weights/safetensors.js';
import { FILE_DTYPE_BYTES } from '../../tensor/dtype.js';
import { UsageError, type Command } from '../command.js';
import { progressBar } from '../progress.js';
import { readFileSync } from 'node:fs';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja', 'generation_config.json', 'special_tokens_map.json'];

const help = `owl init — write a model folder with random weights of a real shape

Usage: owl init --config PRESET_OR_CONFIG --out DIR [options]

  --config X      a preset name (see "owl compare --help"), a config.json, or a model folder
  --out DIR       folder to create (config.json + model.safetensors)
  --dtype D       bf16 (default) | f32 | f16 for the unquantised weights
  --seed S        random seed (default 0)
  --layers N      keep only the first N layers (a smaller model of the same width)
  --no-mxfp4      GPT-OSS: write experts as dense matrices instead of MXFP4 blocks
  --tokenizer DIR copy tokenizer.json, tokenizer_config.json, chat_template.jinja and
                  generation_config.json from DIR, so the model can be chatted with
  --force         overwrite an existing model.safetensors

Matrices are uniform with the config's initializer_range as standard deviation (0.02 when
absent), norms are 1, biases and sinks 0. FP8 configs are written unquantised in --dtype
(quantization_config is dropped); GPT-OSS experts are MXFP4 like the published checkpoints.`;

export default {
  name: 'init',
  summary: 'write a model folder with random weights of a real shape',
  help,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        out: { type: 'string' },
        dtype: { type: 'string', default: 'bf16' },
        seed: { type: 'string', default: '0' },
        layers: { type: 'string' },
        'no-mxfp4': { type: 'boolean', default: false },
        tokenizer: { type: 'string' },
        force: { type: 'boolean', default: false },
      },
    });
    if (!values.config) throw new UsageError('--config is required (a preset name or a config.json)');
    if (!values.out) throw new UsageError('--out is required');
    const dtype = values.dtype as InitDtype;
    if (!['bf16', 'f32', 'f16'].includes(dtype)) throw new UsageError(`--dtype must be bf16, f32 or f16, got "${values.dtype}"`);
    const seed = Number(values.seed);
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);

    const preset = findPreset(values.config);
    const raw: Record<string, unknown> = preset
      ? structuredClone(preset.config)
      : JSON.parse(readFileSync(readConfigFile(values.config).source, 'utf8'));
    if (values.layers !== undefined) {
      const n = Number(values.layers);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--layers must be a positive integer, got "${values.layers}"`);
      raw.num_hidden_layers = n;
      if (Array.isArray(raw.layer_types)) raw.layer_types = raw.layer_types.slice(0, n);
    }
    const mxfp4 = raw.model_type === 'gpt_oss' && !values['no-mxfp4'];
    const quant = raw.quantization_config as { quant_method?: string } | undefined;
    if (quant && !(mxfp4 && quant.quant_method === 'mxfp4')) delete raw.quantization_config;
    if (raw.model_type === 'gpt_oss' && mxfp4 && !quant)
      raw.quantization_config = { quant_method: 'mxfp4', modules_to_not_convert: ['model.layers.*.self_attn', 'model.layers.*.mlp.router', 'model.embed_tokens', 'lm_head'] };
    raw[raw.torch_dtype !== undefined ? 'torch_dtype' : 'dtype'] = { bf16: 'bfloat16', f32: 'float32', f16: 'float16' }[dtype];
    const out = resolve(values.out);
    const spec = parseConfig(raw, values.config, values.config);

    const weightsPath = join(out, 'model.safetensors');
    if (existsSync(weightsPath) && !values.force) throw new UsageError(`${weightsPath} exists (use --force to overwrite)`);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'config.json'), JSON.stringify(raw, null, 2) + '\n');

    const std = typeof raw.initializer_range === 'number' ? raw.initializer_range : 0.02;
    const next = rng(seed);
    const plans = checkpointLayout(spec, { mxfp4 });
    const tensors = plans.map((p) => {
      const fileDtype = planDtype(p, dtype);
      return {
        name: p.name,
        dtype: fileDtype,
        shape: p.shape,
        byteLength: shapeSize(p.shape) * FILE_DTYPE_BYTES[fileDtype],
        produce: () => randomTensor(p, dtype, std, next),
      };
    });
    const bar = progressBar('writing weights');
    writeSafetensorsLazy(weightsPath, tensors, { format: 'pt' }, bar.update);
    bar.done();

    if (values.tokenizer) {
      const src = resolve(values.tokenizer);
      const copied = TOKENIZER_FILES.filter((f) => existsSync(join(src, f)));
      if (!copied.includes('tokenizer.json')) throw new UsageError(`${src} has no tokenizer.json`);
      for (const f of copied) copyFileSync(join(src, f), join(out, f));
    }
    const total = tensors.reduce((a, t) => a + t.byteLength, 0);
    console.log(`wrote ${out}: ${plans.length} tensors, ${(total / 1e9).toFixed(3)} GB${values.tokenizer ? ' + tokenizer' : ''}`);
    return 0;
  },
} satisfies Command;
