/** `owl generate`: one completion of token ids, raw text, or a chat turn. */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { OwlError } from '../../errors.js';
import type { ChatOptions, ChatSession, GenerateOptions } from '../../generate/session.js';
import { validateSampling, type SamplingOptions } from '../../generate/sampling.js';
import type { GenerationStream, GenerationSummary } from '../../generate/stream.js';
import { EMPTY_GENERATION_CONFIG } from '../../generate/defaults.js';
import { readSessionFiles, sessionFrom, type SessionFiles } from '../../node/session.js';
import { UsageError, type Command } from '../command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, loadModelArg, parseIds } from '../model-options.js';

/** Sampling and stopping flags shared by `owl generate` and `owl chat`. */
export const SAMPLING_OPTIONS = {
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' },
  'frequency-penalty': { type: 'string' },
  seed: { type: 'string' },
  greedy: { type: 'boolean' },
  'max-tokens': { type: 'string' },
  stop: { type: 'string', multiple: true },
} as const;

export const SAMPLING_HELP = `Sampling (defaults: the model folder's generation_config.json; for Qwen3 chat, the model card's
values for thinking / non-thinking mode; otherwise temperature 1):
  --temperature T         0 = greedy
  --top-k K               keep the K most likely tokens (0 = off)
  --top-p P               keep the most likely tokens up to probability P (1 = off)
  --min-p P               drop tokens below P x the top probability (0 = off)
  --repetition-penalty R  divide logits of tokens already seen by R (1 = off)
  --presence-penalty X    subtract X from tokens already generated (0 = off)
  --frequency-penalty X   subtract X per time a token was generated (0 = off)
  --seed S                same seed and settings -> same output (default: random, shown with --verbose)
  --greedy                always take the most likely token (= --temperature 0)
  --max-tokens N          stop after N tokens
  --stop TEXT             stop before TEXT (repeatable)`;

export const TOKENIZER_OPTIONS = {
  tokenizer: { type: 'string' },
  'chat-template': { type: 'string' },
} as const;

export const TOKENIZER_HELP = `  --tokenizer DIR         tokenizer.json (+ tokenizer_config.json) from DIR instead of MODEL_DIR
  --chat-template FILE    a .jinja chat template instead of the tokenizer's`;

const FLAGS: Array<[keyof SamplingOptions, string]> = [
  ['temperature', 'temperature'],
  ['topK', 'top-k'],
  ['topP', 'top-p'],
  ['minP', 'min-p'],
  ['repetitionPenalty', 'repetition-penalty'],
  ['presencePenalty', 'presence-penalty'],
  ['frequencyPenalty', 'frequency-penalty'],
];

type SamplingValues = { [K in keyof typeof SAMPLING_OPTIONS]?: (typeof SAMPLING_OPTIONS)[K]['type'] extends 'boolean' ? boolean : K extends 'stop' ? string[] : string };

/** Generation options from the flags (only what the user set; the rest comes from the model's defaults). */
export function generateOptionsFromArgs(values: SamplingValues, defaultMaxTokens: number | undefined): GenerateOptions {
  const o: GenerateOptions = {};
  for (const [key, flag] of FLAGS) {
    const raw = values[flag as keyof SamplingValues] as string | undefined;
    if (raw === undefined) continue;
    const v = Number(raw);
    if (raw.trim() === '' || Number.isNaN(v)) throw new UsageError(`--${flag} must be a number, got "${raw}"`);
    try {
      validateSampling({ [key]: v });
    } catch (e) {
      throw new UsageError(`--${flag}: ${(e as Error).message}`);
    }
    o[key] = v;
  }
  if (values.greedy) {
    if (o.temperature !== undefined && o.temperature !== 0) throw new UsageError('--greedy and --temperature > 0 contradict each other');
    o.temperature = 0;
  }
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
    o.seed = seed;
  }
  const max = values['max-tokens'] ?? (defaultMaxTokens === undefined ? undefined : String(defaultMaxTokens));
  if (max !== undefined) {
    const n = Number(max);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--max-tokens must be a non-negative integer, got "${max}"`);
    o.maxTokens = n;
  }
  if (values.stop?.length) o.stop = values.stop;
  return o;
}

/** Load the weights (with a progress bar) and, when asked, the tokenizer / chat template / generation config. */
export async function openSession(
  dir: string | undefined,
  values: { backend?: string; threads?: string; tokenizer?: string; 'chat-template'?: string },
  withTokenizer: boolean,
): Promise<ChatSession> {
  if (dir && !existsSync(dir)) throw new UsageError(`model folder "${dir}" does not exist`);
  // Tokenizer and template first: their errors are quick to find, the weights slow to read.
  const files: SessionFiles =
    withTokenizer && dir
      ? readSessionFiles(dir, { tokenizerDir: values.tokenizer, chatTemplateFile: values['chat-template'] })
      : { tokenizer: undefined, chatFormat: undefined, chatFormatError: undefined, generationConfig: EMPTY_GENERATION_CONFIG, templateSource: undefined };
  if (withTokenizer && dir && !files.tokenizer)
    throw new UsageError(`${dir} has no tokenizer.json: pass --tokenizer DIR, or make the folder with "owl init ... --tokenizer DIR"`);
  const model = await loadModelArg(dir, values);
  try {
    return sessionFrom(model, files);
  } catch (e) {
    await (model.model.backend as { dispose?: () => Promise<void> }).dispose?.();
    throw e;
  }
}

/** Free backend threads so the process can exit. */
export async function closeSession(session: ChatSession): Promise<void> {
  await (session.model.backend as { dispose?: () => Promise<void> }).dispose?.();
}

/** One line about a finished answer: tokens, speed, prompt reuse. */
export function statsLine(s: GenerationSummary): string {
  const u = s.usage;
  const t = s.timings;
  const reuse = u.reusedTokens ? `, ${u.reusedTokens} reused` : '';
  return (
    `${u.completionTokens} tokens, ${t.decodeTokensPerSecond.toFixed(2)} tok/s` +
    ` | prompt ${u.promptTokens} tokens (${u.prefillTokens} prefilled${reuse}) in ${(t.prefillMs / 1000).toFixed(2)} s`
  );
}

const help = `owl generate — one completion: of token ids, of raw text, or as a chat turn

Usage: owl generate MODEL_DIR (--ids 1,2,3 | --ids-file FILE) [--max-tokens N] [--greedy] [--json]
       owl generate MODEL_DIR --prompt TEXT [--chat] [options]

Input:
  --ids LIST        comma-separated token ids: prints generated ids (greedy unless a sampling
                    flag is given; default 32 tokens)
  --ids-file FILE   ids as a JSON array or separated by commas/whitespace
  --stop-at-eos     ids mode: stop at the model's EOS ids (off: exactly --max-tokens tokens,
                    like transformers' generate without an EOS)
  --prompt TEXT     text to continue (default 256 tokens; stops at EOS)
  --prompt-file F   the same, read from a file
  --chat            treat the prompt as a user message of a chat (default 1024 tokens)
  --system TEXT     chat: a system message
  --no-think        chat: Qwen3 thinking off (the template's enable_thinking=false)
  --effort LEVEL    chat: gpt-oss reasoning effort, low | medium | high

Output: the text on stdout (chat reasoning goes to stderr).
  --json            print one JSON object: {"ids"} in ids mode; otherwise {"text", "reasoning",
                    "tool_calls", "ids", "finish_reason", "usage", "seed"}
  --verbose         print speed and token counts to stderr

${SAMPLING_HELP}

Model:
${TOKENIZER_HELP}
${MODEL_OPTIONS_HELP}`;

export default {
  name: 'generate',
  summary: 'one completion of token ids, raw text or a chat turn',
  help,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ids: { type: 'string' },
        'ids-file': { type: 'string' },
        'stop-at-eos': { type: 'boolean', default: false },
        prompt: { type: 'string' },
        'prompt-file': { type: 'string' },
        chat: { type: 'boolean', default: false },
        system: { type: 'string' },
        'no-think': { type: 'boolean', default: false },
        effort: { type: 'string' },
        json: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        ...SAMPLING_OPTIONS,
        ...TOKENIZER_OPTIONS,
        ...MODEL_OPTIONS,
      },
    });
    const idsMode = values.ids !== undefined || values['ids-file'] !== undefined;
    const textMode = values.prompt !== undefined || values['prompt-file'] !== undefined;
    if (idsMode && textMode) throw new UsageError('give either --ids/--ids-file or --prompt/--prompt-file, not both');
    if (!idsMode && !textMode) throw new UsageError('token ids are required: --ids 1,2,3 or --ids-file FILE (or text: --prompt TEXT)');
    if (values.chat && idsMode) throw new UsageError('--chat needs --prompt (a user message), not --ids');
    if (values.stop?.length && idsMode) throw new UsageError('--stop matches text: use it with --prompt, not --ids');
    if (!values.chat && (values.system !== undefined || values['no-think'] || values.effort !== undefined))
      throw new UsageError('--system, --no-think and --effort need --chat');
    if (values.effort !== undefined && !['low', 'medium', 'high'].includes(values.effort))
      throw new UsageError(`--effort must be low, medium or high, got "${values.effort}"`);
    const options = generateOptionsFromArgs(values, idsMode ? 32 : values.chat ? 1024 : 256);
    if (idsMode && !FLAGS.some(([, flag]) => values[flag as keyof typeof values] !== undefined)) options.temperature = 0;
    if (idsMode) return runIds(positionals[0], values, options);

    let prompt = values.prompt;
    if (values['prompt-file'] !== undefined) {
      if (!existsSync(values['prompt-file'])) throw new UsageError(`--prompt-file ${values['prompt-file']} does not exist`);
      prompt = readFileSync(values['prompt-file'], 'utf8');
    }
    const session = await openSession(positionals[0], values, true);
    try {
      let stream: GenerationStream;
      if (values.chat) {
        const messages = [...(values.system !== undefined ? [{ role: 'system', content: values.system }] : []), { role: 'user', content: prompt! }];
        const chatOptions: ChatOptions = { ...options };
        if (values['no-think']) {
          if (!session.features.thinkingSwitch) throw new UsageError(`--no-think: this model's chat template has no thinking switch`);
          chatOptions.enableThinking = false;
        }
        if (values.effort !== undefined) {
          if (!session.features.reasoningEffort) throw new UsageError(`--effort: this model's chat format has no reasoning effort`);
          chatOptions.reasoningEffort = values.effort as ChatOptions['reasoningEffort'];
        }
        if (!session.chatFormat) throw new UsageError(`--chat: ${session.spec.name} has no chat template`);
        stream = session.chat(messages, chatOptions);
      } else stream = session.complete(prompt!, options);
      const summary = await printStream(stream, values.json);
      if (values.json)
        console.log(
          JSON.stringify({
            text: summary.content,
            reasoning: summary.reasoning,
            tool_calls: summary.toolCalls,
            ids: summary.tokens,
            finish_reason: summary.finishReason,
            usage: summary.usage,
            seed: summary.seed,
          }),
        );
      if (values.verbose) console.error(`${statsLine(summary)} | ${summary.finishReason} | seed ${summary.seed}`);
    } finally {
      await closeSession(session);
    }
    return 0;
  },
} satisfies Command;

async function runIds(dir: string | undefined, values: { ids?: string; 'ids-file'?: string; 'stop-at-eos'?: boolean; json?: boolean; verbose?: boolean; backend?: string; threads?: string }, options: GenerateOptions) {
  const session = await openSession(dir, values, false);
  try {
    const prompt = parseIds(values, session.spec.vocabSize);
    const max = options.maxTokens!;
    if (prompt.length + max > session.spec.maxPositions)
      throw new UsageError(`prompt (${prompt.length}) + --max-tokens (${max}) exceeds the context of ${session.spec.maxPositions}`);
    const summary = max === 0 ? null : await session.generate(prompt, { ...options, ignoreEos: !values['stop-at-eos'] }).result();
    const ids = summary?.tokens ?? [];
    console.log(values.json ? JSON.stringify({ ids }) : ids.join(','));
    if (values.verbose && summary) console.error(`${statsLine(summary)} | ${summary.finishReason} | seed ${summary.seed}`);
  } finally {
    await closeSession(session);
  }
  return 0;
}

/** Stream content to stdout and reasoning to stderr (unless JSON output is wanted at the end). */
async function printStream(stream: GenerationStream, quiet: boolean | undefined): Promise<GenerationSummary> {
  let endsWithNewline = true;
  for await (const d of stream) {
    if (quiet) continue;
    if (d.reasoning) process.stderr.write(d.reasoning);
    if (d.content) {
      process.stdout.write(d.content);
      endsWithNewline = d.content.endsWith('\n');
    }
  }
  if (!quiet && !endsWithNewline) process.stdout.write('\n');
  const summary = await stream.summary;
  if (summary.finishReason === 'abort') throw new OwlError('generation was cancelled');
  return summary;
}
