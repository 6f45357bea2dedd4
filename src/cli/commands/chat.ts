/** `owl chat`: an interactive conversation with a model folder in the terminal. */
import { createInterface, type Interface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { ChatMessage } from '../../chat/types.js';
import type { ChatOptions, ChatSession, GenerateOptions } from '../../generate/session.js';
import type { SamplingOptions } from '../../generate/sampling.js';
import type { GenerationSummary } from '../../generate/stream.js';
import { UsageError, type Command } from '../command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP } from '../model-options.js';
import {
  SAMPLING_HELP,
  SAMPLING_OPTIONS,
  TOKENIZER_HELP,
  TOKENIZER_OPTIONS,
  closeSession,
  generateOptionsFromArgs,
  openSession,
  statsLine,
} from './generate.js';

const COMMANDS_HELP = `Commands:
  /help                 this list
  /think, /no_think     Qwen3: thinking on / off (switches the sampling defaults too)
  /effort low|medium|high   gpt-oss: reasoning effort
  /system TEXT          set the system prompt (/system alone removes it)
  /reset                forget the conversation (the system prompt stays)
  /hide-reasoning       hide or show the model's reasoning
  /set NAME VALUE       temperature, top-k, top-p, min-p, repetition-penalty, presence-penalty,
                        frequency-penalty, seed, max-tokens (/set NAME: back to the default;
                        /set alone: show the settings)
  /exit                 quit (also Ctrl-D, or Ctrl-C on an empty line)
Ctrl-C while the model answers stops the answer, not the program.`;

const help = `owl chat — talk to a model in the terminal

Usage: owl chat MODEL_DIR [options]

MODEL_DIR needs config.json, weights and a tokenizer with a chat template (tokenizer.json and
tokenizer_config.json or chat_template.jinja; "owl init --tokenizer DIR" copies them). Answers
stream as they are generated; reasoning is shown dimmed (or labelled without colours); after
each answer a line gives the tokens, the speed (tokens/s) and how much of the prompt was reused.

Options:
  --system TEXT     start with this system prompt
  --no-think        Qwen3: start with thinking off
  --effort LEVEL    gpt-oss: reasoning effort, low | medium | high
  --hide-reasoning  start with reasoning hidden
  --no-color        no ANSI colours (also when NO_COLOR is set or output is not a terminal)

${SAMPLING_HELP}

Model:
${TOKENIZER_HELP}
${MODEL_OPTIONS_HELP}

${COMMANDS_HELP}`;

/** /set names → option keys. */
const SETTABLE: Record<string, keyof GenerateOptions> = {
  temperature: 'temperature',
  'top-k': 'topK',
  'top-p': 'topP',
  'min-p': 'minP',
  'repetition-penalty': 'repetitionPenalty',
  'presence-penalty': 'presencePenalty',
  'frequency-penalty': 'frequencyPenalty',
  seed: 'seed',
  'max-tokens': 'maxTokens',
};

export interface ReplOptions {
  system?: string;
  thinking?: boolean;
  effort?: ChatOptions['reasoningEffort'];
  showReasoning?: boolean;
  color?: boolean;
  generate?: GenerateOptions;
}

/** The conversation loop, separate from process I/O so it can be driven by tests. */
export class ChatRepl {
  private readonly messages: ChatMessage[] = [];
  private system: string | undefined;
  private thinking: boolean;
  private effort: ChatOptions['reasoningEffort'];
  private showReasoning: boolean;
  private readonly color: boolean;
  private readonly options: GenerateOptions;
  private current: AbortController | null = null;
  private rl: Interface | null = null;

  constructor(
    private readonly session: ChatSession,
    private readonly input: NodeJS.ReadableStream,
    private readonly output: NodeJS.WritableStream & { isTTY?: boolean },
    o: ReplOptions = {},
  ) {
    this.system = o.system;
    this.thinking = o.thinking ?? true;
    this.effort = o.effort;
    this.showReasoning = o.showReasoning ?? true;
    this.color = o.color ?? false;
    this.options = { ...o.generate };
  }

  /** Read and answer lines until /exit, end of input, or Ctrl-C on an empty line. */
  async run(): Promise<void> {
    const terminal = (this.input as { isTTY?: boolean }).isTTY === true && this.output.isTTY === true;
    const rl = createInterface({ input: this.input, output: this.output, terminal, historySize: 500, prompt: this.style('> ', '1') });
    this.rl = rl;
    rl.on('SIGINT', () => this.interrupt());
    this.write(this.banner() + '\n');
    rl.prompt();
    for await (const line of rl) {
      const text = line.trim();
      if (text === '/exit' || text === '/quit') break;
      if (text.startsWith('/')) this.command(text);
      else if (text) await this.answer(text);
      rl.prompt();
    }
    rl.close();
  }

  /** Ctrl-C: stop the answer; else clear a typed line; on an empty line, quit. */
  private interrupt(): void {
    const rl = this.rl!;
    if (this.current) {
      this.current.abort();
      return;
    }
    if (rl.line.length > 0) {
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
      this.write('^C\n');
      rl.prompt();
      return;
    }
    this.write('\n');
    rl.close();
  }

  private async answer(text: string): Promise<void> {
    this.messages.push({ role: 'user', content: text });
    const messages = this.system !== undefined ? [{ role: 'system', content: this.system }, ...this.messages] : this.messages;
    this.current = new AbortController();
    let state: 'start' | 'reasoning' | 'content' = 'start';
    let summary: GenerationSummary;
    try {
      const stream = this.session.chat(messages, { ...this.chatOptions(), signal: this.current.signal });
      for await (const d of stream) {
        if (d.reasoning) {
          if (state === 'start') this.write(this.showReasoning ? this.style(this.color ? '' : '[thinking]\n', '2') : this.style('(thinking…)\n', '2'));
          state = 'reasoning';
          if (this.showReasoning) this.write(this.style(d.reasoning, '2'));
        }
        if (d.content) {
          if (state === 'reasoning') this.write(this.showReasoning ? (this.color ? '\n\n' : '\n[answer]\n') : '');
          state = 'content';
          this.write(d.content);
        }
        for (const c of d.tool_calls ?? []) this.write(this.style(`\n[tool call] ${c.name}(${c.arguments})\n`, '36'));
      }
      summary = await stream.summary;
    } catch (e) {
      this.messages.pop();
      this.write(this.style(`\nerror: ${(e as Error).message}\n`, '31'));
      return;
    } finally {
      this.current = null;
    }
    if (summary.finishReason === 'abort' && summary.usage.completionTokens === 0) {
      this.messages.pop();
      return this.write(`\n${this.style('[stopped before the answer began; the message was dropped]', '2')}\n`);
    }
    this.messages.push(this.session.assistantMessage(summary));
    const stopped = summary.finishReason === 'abort' ? ' (stopped)' : summary.finishReason === 'length' ? ' (cut at the token limit)' : '';
    this.write(`\n${this.style(`[${statsLine(summary)}]${stopped}`, '2')}\n`);
  }

  private chatOptions(): ChatOptions {
    const o: ChatOptions = { ...this.options };
    if (this.session.features.thinkingSwitch) o.enableThinking = this.thinking;
    if (this.effort) o.reasoningEffort = this.effort;
    return o;
  }

  private command(line: string): void {
    const [name, ...rest] = line.slice(1).split(/\s+/);
    const arg = line.slice(1 + name!.length).trim();
    const f = this.session.features;
    switch (name) {
      case 'help':
        return this.say(COMMANDS_HELP);
      case 'think':
      case 'no_think':
      case 'no-think':
        if (!f.thinkingSwitch) return this.say("this model's chat template has no thinking switch");
        this.thinking = name === 'think';
        return this.say(`thinking ${this.thinking ? 'on' : 'off'}; sampling: ${this.samplingText()}`);
      case 'effort':
        if (!f.reasoningEffort) return this.say("this model's chat format has no reasoning effort");
        if (!['low', 'medium', 'high'].includes(arg)) return this.say('usage: /effort low|medium|high');
        this.effort = arg as ChatOptions['reasoningEffort'];
        return this.say(`reasoning effort ${arg}`);
      case 'system':
        this.system = arg || undefined;
        return this.say(arg ? 'system prompt set' : 'system prompt removed');
      case 'reset':
        this.messages.length = 0;
        return this.say('conversation forgotten');
      case 'hide-reasoning':
        this.showReasoning = !this.showReasoning;
        return this.say(`reasoning ${this.showReasoning ? 'shown' : 'hidden'}`);
      case 'set':
        return this.set(rest[0], rest[1]);
      default:
        return this.say(`unknown command /${name}; /help lists the commands`);
    }
  }

  private set(name: string | undefined, value: string | undefined): void {
    if (name === undefined) return this.say(`sampling: ${this.samplingText()}; max tokens: ${this.options.maxTokens ?? 'until the end of the answer'}`);
    const key = SETTABLE[name];
    if (!key) return this.say(`cannot set "${name}"; one of: ${Object.keys(SETTABLE).join(', ')}`);
    if (value === undefined) {
      delete this.options[key];
      return this.say(`${name} back to the default; sampling: ${this.samplingText()}`);
    }
    try {
      Object.assign(this.options, generateOptionsFromArgs({ [name]: value }, undefined));
    } catch (e) {
      return this.say((e as Error).message);
    }
    return this.say(`sampling: ${this.samplingText()}${this.options.seed !== undefined ? `; seed ${this.options.seed}` : ''}`);
  }

  private samplingText(): string {
    return describeSampling(this.session.samplingFor(this.chatOptions(), this.session.features.thinkingSwitch ? this.thinking : undefined));
  }

  private banner(): string {
    const s = this.session;
    const spec = s.spec;
    const f = s.features;
    const lines = [
      `owl chat — ${spec.name} (${spec.modelType}, ${spec.numLayers} layers, context ${spec.maxPositions} tokens, ${s.model.backend.name} backend)`,
      `chat format: ${s.chatFormat!.kind === 'harmony' ? 'Harmony' : 'Jinja template'}` +
        (f.thinkingSwitch ? `; thinking ${this.thinking ? 'on' : 'off'} (/think, /no_think)` : '') +
        (f.reasoningEffort ? `; reasoning effort ${this.effort ?? 'template default'} (/effort)` : ''),
      `sampling: ${this.samplingText()}`,
      'Type a message and press Enter. /help lists the commands. Ctrl-C stops an answer; Ctrl-C on an empty line, Ctrl-D or /exit quits.',
    ];
    return this.style(lines.join('\n'), '2');
  }

  private say(text: string): void {
    this.write(this.style(text, '33') + '\n');
  }

  private style(text: string, code: string): string {
    return this.color && text ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  private write(text: string): void {
    this.output.write(text);
  }
}

export function describeSampling(s: SamplingOptions): string {
  if (s.temperature === 0) return 'greedy' + penalties(s);
  const parts = [`temperature ${s.temperature}`];
  if (s.topK) parts.push(`top-k ${s.topK}`);
  if (s.topP < 1) parts.push(`top-p ${s.topP}`);
  if (s.minP) parts.push(`min-p ${s.minP}`);
  return parts.join(', ') + penalties(s);
}

function penalties(s: SamplingOptions): string {
  const parts: string[] = [];
  if (s.repetitionPenalty !== 1) parts.push(`repetition penalty ${s.repetitionPenalty}`);
  if (s.presencePenalty) parts.push(`presence penalty ${s.presencePenalty}`);
  if (s.frequencyPenalty) parts.push(`frequency penalty ${s.frequencyPenalty}`);
  return parts.length ? ', ' + parts.join(', ') : '';
}

export default {
  name: 'chat',
  summary: 'talk to a model in the terminal (streaming, reasoning shown, /help)',
  help,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        system: { type: 'string' },
        'no-think': { type: 'boolean', default: false },
        effort: { type: 'string' },
        'hide-reasoning': { type: 'boolean', default: false },
        'no-color': { type: 'boolean', default: false },
        ...SAMPLING_OPTIONS,
        ...TOKENIZER_OPTIONS,
        ...MODEL_OPTIONS,
      },
    });
    if (!positionals[0]) throw new UsageError('a MODEL_DIR argument is required (see owl chat --help)');
    if (values.effort !== undefined && !['low', 'medium', 'high'].includes(values.effort))
      throw new UsageError(`--effort must be low, medium or high, got "${values.effort}"`);
    const generate = generateOptionsFromArgs(values, undefined);
    const session = await openSession(positionals[0], values, true);
    try {
      if (!session.chatFormat)
        throw new UsageError(`${positionals[0]} cannot chat: the tokenizer has no chat template (pass --chat-template FILE.jinja)`);
      if (values['no-think'] && !session.features.thinkingSwitch) throw new UsageError("--no-think: this model's chat template has no thinking switch");
      if (values.effort !== undefined && !session.features.reasoningEffort) throw new UsageError("--effort: this model's chat format has no reasoning effort");
      const repl = new ChatRepl(session, process.stdin, process.stdout, {
        system: values.system,
        thinking: !values['no-think'],
        effort: values.effort as ChatOptions['reasoningEffort'],
        showReasoning: !values['hide-reasoning'],
        color: process.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR,
        generate,
      });
      await repl.run();
    } finally {
      await closeSession(session);
    }
    return 0;
  },
} satisfies Command;
