/** `owl perplexity`: mean next-token negative log-likelihood of a token sequence. */
import { parseArgs } from 'node:util';
import { meanNextTokenNll } from '../../generate/metrics.js';
import { UsageError, type Command } from '../command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, withModel, parseIds } from '../model-options.js';

const help = `owl perplexity — how well a model predicts a token sequence

Usage: owl perplexity MODEL_DIR (--ids 1,2,3 | --ids-file FILE) [--json]

Prints the mean over t of -log p(ids[t+1] | ids[..t]) (nats) and its exponential.
  --json            print {"nll": ..., "ppl": ..., "tokens": ...} (tokens = ids given)
${MODEL_OPTIONS_HELP}`;

export default {
  name: 'perplexity',
  summary: 'mean next-token NLL and perplexity of token ids',
  help,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ids: { type: 'string' }, 'ids-file': { type: 'string' }, json: { type: 'boolean', default: false }, ...MODEL_OPTIONS },
    });
    const { ids, nll } = await withModel(positionals[0], values, ({ model, spec }) => {
      const ids = parseIds(values, spec.vocabSize);
      if (ids.length < 2) throw new UsageError('perplexity needs at least 2 token ids');
      return { ids, nll: meanNextTokenNll(model.forward(ids, model.newCache()), ids, spec.vocabSize) };
    });
    const ppl = Math.exp(nll);
    if (values.json) console.log(JSON.stringify({ nll, ppl, tokens: ids.length }));
    else console.log(`tokens ${ids.length}  nll ${nll.toFixed(6)}  perplexity ${ppl.toFixed(4)}`);
    return 0;
  },
} satisfies Command;
