/** `owl template`: render a chat request with the model's chat format (Jinja template or Harmony). */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chatFormatFor } from '../../chat/choose.js';
import type { ChatMessage } from '../../chat/types.js';
import { loadTokenizerFromDir } from '../../node/tokenizer-dir.js';
import { UsageError, type Command } from '../command.js';

const help = `owl template — render a chat as the model sees it

Usage: owl template --tokenizer DIR --request FILE.json [--json] [--format auto|harmony|jinja]
                    [--template FILE.jinja] [--date YYYY-MM-DD] [--match-content-tokens]

  --tokenizer DIR   folder with tokenizer.json, tokenizer_config.json and/or chat_template.jinja
  --request FILE    JSON {"messages": [...], "tools": [...]?, "add_generation_prompt": bool?, ...}:
                    every key besides "messages" is passed to the template as apply_chat_template's
                    kwargs (enable_thinking, reasoning_effort, continue_final_message, ...). "-" = stdin.
  --json            print {"text": ..., "ids": [...]} instead of the text
  --format F        harmony: GPT-OSS's Harmony format (native); jinja: the chat template;
                    auto (default): the template, or Harmony for a Harmony vocabulary without one
  --template FILE   use this Jinja chat template instead of the tokenizer's
  --date D          the date for strftime_now and Harmony's "Current date:" (default: today)
  --match-content-tokens
                    ids as transformers makes them: control-token text inside message content
                    (e.g. "<|im_start|>") also becomes control tokens. Without it, such text is
                    encoded as plain text; only the template produces control tokens.

A template that raises (e.g. an unsupported message shape) is an error (exit 2).`;

export default {
  name: 'template',
  summary: "render a chat request with the model's chat template or Harmony",
  help,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        tokenizer: { type: 'string' },
        request: { type: 'string' },
        json: { type: 'boolean', default: false },
        format: { type: 'string', default: 'auto' },
        template: { type: 'string' },
        date: { type: 'string' },
        'match-content-tokens': { type: 'boolean', default: false },
      },
    });
    if (!values.tokenizer) throw new UsageError('--tokenizer DIR is required');
    if (!values.request) throw new UsageError('--request FILE.json is required');
    const format = values.format;
    if (format !== 'auto' && format !== 'harmony' && format !== 'jinja') throw new UsageError(`--format must be auto, harmony or jinja (got "${format}")`);
    if (values.date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(values.date)) throw new UsageError(`--date must be YYYY-MM-DD (got "${values.date}")`);

    const request = readRequest(values.request);
    const { messages, ...kwargs } = request;
    if (!Array.isArray(messages)) throw new UsageError(`${values.request}: "messages" must be a list of messages`);
    const tokenizer = loadTokenizerFromDir(values.tokenizer);
    const template = values.template === undefined ? undefined : readText(values.template, '--template');
    const chat = chatFormatFor(tokenizer, { format, template, date: values.date });
    const rendered = chat.render(messages as ChatMessage[], kwargs);
    if (!values.json) {
      process.stdout.write(rendered.text);
      return 0;
    }
    const ids = values['match-content-tokens'] ? tokenizer.encode(rendered.text) : rendered.ids;
    console.log(JSON.stringify({ text: rendered.text, ids }));
    return 0;
  },
} satisfies Command;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (e) {
    throw new UsageError(`${what} ${path}: ${(e as Error).message}`);
  }
}

function readRequest(path: string): Record<string, unknown> {
  const text = readText(path, '--request');
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--request ${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new UsageError(`--request ${path}: expected a JSON object {"messages": [...], ...}`);
  }
  return request as Record<string, unknown>;
}
