/**
 * Parser for outputs that mark reasoning and tool calls with tags: Qwen3 (`<think>`,
 * `<tool_call>{"name", "arguments"}</tool_call>`) and DeepSeek-V3 / V3.1 (`<think>` where the
 * template uses it; `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{…}\n```<｜tool▁call▁end｜>…`,
 * or V3.1's `<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{…}<｜tool▁call▁end｜>`).
 * A malformed block becomes content, verbatim, with a warning.
 */
import type { Tokenizer } from '../tokenizer/types.js';
import { jsonText, MarkerScanner, ParserBase, type MarkerEvent } from './parse.js';

export interface TaggedSyntax {
  think: boolean;
  tools: 'qwen' | 'deepseek' | null;
}

const THINK = { think_open: '<think>', think_close: '</think>' };
const QWEN_TOOLS = { tool_open: '<tool_call>', tool_close: '</tool_call>' };
const DEEPSEEK_TOOLS = {
  calls_begin: '<｜tool▁calls▁begin｜>',
  calls_end: '<｜tool▁calls▁end｜>',
  call_begin: '<｜tool▁call▁begin｜>',
  call_end: '<｜tool▁call▁end｜>',
  sep: '<｜tool▁sep｜>',
};

type State = 'content' | 'reasoning' | 'tool' | 'calls' | 'call';

export class TaggedParser extends ParserBase {
  private state: State;
  /** Text of the open tool call (Qwen: the JSON; DeepSeek: before / after the separator). */
  private head = '';
  private body = '';
  private sawSep = false;
  /** Where in the reasoning a think block the model itself opened begins (null: none open, or the template opened it). */
  private modelThinkStart: number | null = null;

  constructor(tokenizer: Tokenizer, syntax: TaggedSyntax, stopIds: ReadonlySet<number>, promptText?: string) {
    const markers: Record<string, string> = {
      ...(syntax.think ? THINK : {}),
      ...(syntax.tools === 'qwen' ? QWEN_TOOLS : syntax.tools === 'deepseek' ? DEEPSEEK_TOOLS : {}),
    };
    super(new MarkerScanner(tokenizer, markers, stopIds));
    this.state = syntax.think && promptText !== undefined && opensThink(promptText) ? 'reasoning' : 'content';
  }

  protected onEvent(e: MarkerEvent): void {
    if (e.kind === 'stop') {
      this.endOfOutput('stop token');
      this.stopped();
      return;
    }
    if (e.kind === 'control') {
      this.warn(`ignored unexpected control token ${e.text}`);
      return;
    }
    if (e.kind === 'text') {
      this.text(e.text);
      return;
    }
    const { name, text } = e;
    switch (this.state) {
      case 'content':
        if (name === 'think_open') {
          this.state = 'reasoning';
          this.modelThinkStart = this.reasoningLength();
          this.reasoningStream.boundary();
        } else if (name === 'tool_open' || name === 'call_begin' || name === 'calls_begin') {
          this.contentStream.boundary();
          this.openTool(name);
        } else this.warn(`ignored stray ${text} in content`);
        return;
      case 'reasoning':
        if (name === 'think_close') {
          this.state = 'content';
          this.modelThinkStart = null;
          this.reasoningStream.boundary();
          this.contentStream.boundary();
        } else if (name === 'think_open') this.warn('ignored <think> inside a think block');
        else this.reasoning(text); // tool syntax while thinking is just part of the thought
        return;
      case 'tool':
        if (name === 'tool_close') this.closeQwenTool();
        else this.head += text;
        return;
      case 'calls':
        if (name === 'call_begin') this.openTool(name);
        else if (name === 'calls_end') this.backToContent();
        else this.warn(`ignored stray ${text} between tool calls`);
        return;
      case 'call':
        if (name === 'sep' && !this.sawSep) this.sawSep = true;
        else if (name === 'call_end') this.closeDeepSeekCall();
        else if (name === 'calls_end') {
          this.degradeDeepSeekCall('tool call not closed before <｜tool▁calls▁end｜>');
          this.backToContent();
        } else if (this.sawSep) this.body += text;
        else this.head += text;
        return;
    }
  }

  protected onFinish(): void {
    this.endOfOutput('end of output');
  }

  private text(text: string): void {
    switch (this.state) {
      case 'content':
        return this.content(text);
      case 'reasoning':
        return this.reasoning(text);
      case 'tool':
        this.head += text;
        return;
      case 'calls':
        if (text.trim()) {
          this.warn('text between tool calls kept as content');
          this.content(text);
        }
        return;
      case 'call':
        if (this.sawSep) this.body += text;
        else this.head += text;
        return;
    }
  }

  private openTool(marker: string): void {
    this.head = '';
    this.body = '';
    this.sawSep = false;
    this.state = marker === 'tool_open' ? 'tool' : marker === 'calls_begin' ? 'calls' : 'call';
  }

  private backToContent(): void {
    this.state = 'content';
    this.contentStream.boundary();
  }

  private endOfOutput(why: string): void {
    if (this.state === 'reasoning' && this.modelThinkStart !== null) {
      // A <think> the model opened and never closed is not trusted as reasoning: the final result
      // holds it as content (streamed deltas already went out as reasoning and are not taken back).
      this.warn(`unterminated think block at ${why}; kept as content in the result`);
      this.demoteReasoning(this.modelThinkStart);
    } else if (this.state === 'reasoning') this.warn(`unterminated think block at ${why}`);
    else if (this.state === 'tool') {
      this.warn(`unterminated tool call at ${why}; kept as content`);
      this.content(QWEN_TOOLS.tool_open + this.head);
    } else if (this.state === 'call') this.degradeDeepSeekCall(`unterminated tool call at ${why}`);
    else if (this.state === 'calls') this.warn(`tool-call block not closed at ${why}`);
    this.state = 'content';
  }

  private closeQwenTool(): void {
    const raw = this.head;
    this.backToContent();
    let call: unknown;
    try {
      call = JSON.parse(raw);
    } catch {
      call = undefined;
    }
    const c = call as { name?: unknown; arguments?: unknown; parameters?: unknown } | undefined;
    if (typeof c === 'object' && c !== null && !Array.isArray(c) && typeof c.name === 'string' && c.name) {
      const args = c.arguments ?? c.parameters ?? {};
      this.toolCall(c.name, typeof args === 'string' ? args : JSON.stringify(args));
      return;
    }
    this.warn('invalid tool call (expected {"name": ..., "arguments": {...}}); kept as content');
    this.content(QWEN_TOOLS.tool_open + raw + QWEN_TOOLS.tool_close);
  }

  private closeDeepSeekCall(): void {
    const head = this.head.trim();
    let name: string;
    let args: string | null;
    const v3 = head === 'function' ? /^([^\n]+)\n```(?:json)?[ \t]*\n([\s\S]*?)\n?```\s*$/.exec(this.body.replace(/^\s+/, '')) : null;
    if (v3) {
      name = v3[1].trim();
      args = jsonText(v3[2]);
    } else {
      name = head === 'function' ? '' : head;
      args = jsonText(this.body.replace(/^\s*```(?:json)?\s*\n?/, '').replace(/\n?```\s*$/, ''));
    }
    if (name && args !== null) {
      this.state = 'calls';
      this.toolCall(name, args);
      return;
    }
    this.degradeDeepSeekCall('invalid tool call (no name or arguments not JSON)', DEEPSEEK_TOOLS.call_end);
    this.state = 'calls';
  }

  private degradeDeepSeekCall(why: string, closing = ''): void {
    this.warn(`${why}; kept as content`);
    const sep = this.sawSep ? DEEPSEEK_TOOLS.sep : '';
    this.content(DEEPSEEK_TOOLS.call_begin + this.head + sep + this.body + closing);
    this.head = this.body = '';
    this.sawSep = false;
  }
}

/** Did the prompt leave a think block open (the template wrote `<think>` for the model)? */
function opensThink(prompt: string): boolean {
  return /<think>\s*$/.test(prompt);
}
