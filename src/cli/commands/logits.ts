/** `owl logits`: the logits of every position for given token ids. */
import { parseArgs } from 'node:util';
import { writeSafetensorsFile } from '../../node/tensor-files.js';
import type { Command } from '../command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, withModel, parseIds } from '../model-options.js';
import { topK } from '../../models/blocks/router.js';

const help = `owl logits — logits of every position of a token sequence

Usage: owl logits MODEL_DIR (--ids 1,2,3 | --ids-file FILE) [--out FILE.safetensors]

  --ids LIST        comma-separated token ids
  --ids-file FILE   ids as a JSON array or separated by commas/whitespace
  --out FILE        write float32 tensor "logits" [n, vocab] to a safetensors file;
                    without it, print the top 5 tokens of each position
${MODEL_OPTIONS_HELP}`;

export default {
  name: 'logits',
  summary: 'logits of every position for token ids (safetensors or top-5)',
  help,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ids: { type: 'string' }, 'ids-file': { type: 'string' }, out: { type: 'string' }, ...MODEL_OPTIONS },
    });
    const { ids, logits, vocab } = await withModel(positionals[0], values, ({ model, spec }) => {
      const ids = parseIds(values, spec.vocabSize);
      return { ids, logits: model.forward(ids, model.newCache()), vocab: spec.vocabSize };
    });
    if (values.out) {
      writeSafetensorsFile(values.out, [
        { name: 'logits', dtype: 'F32', shape: [ids.length, vocab], data: new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength) },
      ]);
      console.log(`wrote logits [${ids.length}, ${vocab}] to ${values.out}`);
    } else {
      ids.forEach((id, t) => {
        const row = logits.subarray(t * vocab, (t + 1) * vocab);
        const top = topK(row, 5).map((i) => `${i}:${row[i]!.toFixed(4)}`);
        console.log(`${t}\t${id}\t${top.join(' ')}`);
      });
    }
    return 0;
  },
} satisfies Command;
