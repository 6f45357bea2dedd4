/** `owl generate`: continue a token sequence. */
import { parseArgs } from 'node:util';
import { argmax } from '../../generate/metrics.js';
import { UsageError, type Command } from '../command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, loadModelArg, parseIds } from '../model-options.js';

const help = `owl generate — continue a token sequence

Usage: owl generate MODEL_DIR (--ids 1,2,3 | --ids-file FILE) [--max-tokens N] [--greedy] [--json]

  --max-tokens N    tokens to generate (default 32)
  --greedy          always take the most likely token (the default for now)
  --stop-at-eos     stop early at the model's EOS ids (off: raw ids give exactly N tokens,
                    like transformers' generate without an EOS)
  --json            print {"ids": [...]} with the generated ids only
${MODEL_OPTIONS_HELP}`;

export default {
  name: 'generate',
  summary: 'continue a token sequence (greedy)',
  help,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ids: { type: 'string' },
        'ids-file': { type: 'string' },
        'max-tokens': { type: 'string', default: '32' },
        greedy: { type: 'boolean', default: true },
        'stop-at-eos': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        ...MODEL_OPTIONS,
      },
    });
    const maxTokens = Number(values['max-tokens']);
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new UsageError(`--max-tokens must be a non-negative integer`);
    const { model, spec } = await loadModelArg(positionals[0], values);
    const prompt = parseIds(values, spec.vocabSize);
    if (prompt.length + maxTokens > spec.maxPositions)
      throw new UsageError(`prompt (${prompt.length}) + --max-tokens (${maxTokens}) exceeds the context of ${spec.maxPositions}`);
    const stop = new Set(values['stop-at-eos'] ? spec.eosTokenIds : []);
    const cache = model.newCache();
    const out: number[] = [];
    let logits = maxTokens > 0 ? model.forward(prompt, cache, { logits: 'last' }) : null;
    while (logits && out.length < maxTokens) {
      const next = argmax(logits);
      out.push(next);
      if (stop.has(next) || out.length === maxTokens) break;
      logits = model.forward([next], cache, { logits: 'last' });
    }
    console.log(values.json ? JSON.stringify({ ids: out }) : out.join(','));
    return 0;
  },
} satisfies Command;
