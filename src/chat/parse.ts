/**
 * Streaming output parsers: generated ids in, {reasoning, content, toolCalls} deltas out.
 * Shared here: the marker scanner (ids -> text and marker events) and the delta bookkeeping;
 * the per-format state machines are in parse-tagged.ts (Qwen3, DeepSeek) and parse-harmony.ts.
 */
import { IncrementalDecoder } from '../tokenizer/incremental.js';
import type { Tokenizer } from '../tokenizer/types.js';
import type { ChatDelta, OutputParser, ParsedOutput, ToolCall } from './types.js';

/** How a model writes reasoning and tool calls. */
export type OutputSyntax =
  | { kind: 'harmony' }
  | {
      kind: 'tagged';
      /** `<think>…</think>` blocks. */
      think: boolean;
      /** Qwen's `<tool_call>{json}</tool_call>` or DeepSeek's `<｜tool▁call▁begin｜>` tokens. */
      tools: 'qwen' | 'deepseek' | null;
    };

export type MarkerEvent =
  | { kind: 'text'; text: string }
  | { kind: 'marker'; name: string; text: string }
  | { kind: 'stop' }
  /** A special token that means nothing to this format. */
  | { kind: 'control'; text: string };

/**
 * Turns ids into text and marker events. A marker that is one added token is recognised by id
 * only (the same characters spelled as ordinary tokens stay text); a marker the vocabulary lacks
 * is found in the text, holding back a tail that could be its beginning.
 */
export class MarkerScanner {
  private readonly idMarkers = new Map<number, { name: string; text: string }>();
  private readonly textMarkers: Array<{ name: string; text: string }> = [];
  private readonly decoder: IncrementalDecoder;
  private held = '';

  constructor(
    private readonly tokenizer: Tokenizer,
    markers: Record<string, string>,
    private readonly stopIds: ReadonlySet<number>,
  ) {
    for (const [name, text] of Object.entries(markers)) {
      const id = tokenizer.tokenToId(text);
      if (id !== undefined && tokenizer.isAdded(id)) this.idMarkers.set(id, { name, text });
      else this.textMarkers.push({ name, text });
    }
    this.decoder = new IncrementalDecoder(tokenizer);
  }

  push(id: number): MarkerEvent[] {
    const marker = this.idMarkers.get(id);
    const stop = this.stopIds.has(id);
    if (!marker && !stop && !this.tokenizer.isSpecial(id)) return this.scan(this.decoder.push(id), false);
    const events = this.scan(this.decoder.flush(), true);
    if (stop) events.push({ kind: 'stop' });
    else if (marker) events.push({ kind: 'marker', name: marker.name, text: marker.text });
    else events.push({ kind: 'control', text: this.tokenizer.idToToken(id) ?? `#${id}` });
    return events;
  }

  finish(): MarkerEvent[] {
    return this.scan(this.decoder.flush(), true);
  }

  private scan(text: string, final: boolean): MarkerEvent[] {
    const events: MarkerEvent[] = [];
    let buf = this.held + text;
    this.held = '';
    for (;;) {
      let best: { at: number; m: { name: string; text: string } } | null = null;
      for (const m of this.textMarkers) {
        const at = buf.indexOf(m.text);
        if (at >= 0 && (!best || at < best.at || (at === best.at && m.text.length > best.m.text.length))) best = { at, m };
      }
      if (!best) break;
      if (best.at > 0) events.push({ kind: 'text', text: buf.slice(0, best.at) });
      events.push({ kind: 'marker', name: best.m.name, text: best.m.text });
      buf = buf.slice(best.at + best.m.text.length);
    }
    if (!final) {
      let keep = 0;
      for (const m of this.textMarkers) {
        for (let n = Math.min(m.text.length - 1, buf.length); n > keep; n--) {
          if (buf.endsWith(m.text.slice(0, n))) {
            keep = n;
            break;
          }
        }
      }
      this.held = buf.slice(buf.length - keep);
      buf = buf.slice(0, buf.length - keep);
    }
    if (buf) events.push({ kind: 'text', text: buf });
    return events;
  }
}

/**
 * One output stream (reasoning or content): drops whitespace at the start of a segment and holds
 * trailing whitespace until more text follows, so the blank lines templates put around blocks
 * do not leak into the parsed fields.
 */
export class TrimmedStream {
  private pending = '';
  private atStart = true;

  push(text: string): string {
    if (this.atStart) {
      text = text.replace(/^\s+/, '');
      if (!text) return '';
      this.atStart = false;
    }
    const all = this.pending + text;
    const tail = /\s+$/.exec(all);
    this.pending = tail ? tail[0] : '';
    return all.slice(0, all.length - this.pending.length);
  }

  /** A block boundary: trailing whitespace is dropped and the next text starts a new segment. */
  boundary(): void {
    this.pending = '';
    this.atStart = true;
  }
}

/** Accumulates deltas and the running result; the format parsers write through it. */
export abstract class ParserBase implements OutputParser {
  private out: ParsedOutput = { reasoning: '', content: '', toolCalls: [], warnings: [], stopped: false };
  private delta: ChatDelta = {};
  private finished = false;
  protected readonly reasoningStream = new TrimmedStream();
  protected readonly contentStream = new TrimmedStream();

  constructor(protected readonly scanner: MarkerScanner) {}

  push(id: number): ChatDelta {
    if (this.finished) return this.take();
    if (this.out.stopped) {
      this.warn(`ignored token ${id} after the stop token`);
      return this.take();
    }
    for (const e of this.scanner.push(id)) this.onEvent(e);
    return this.take();
  }

  finish(): ChatDelta {
    if (!this.finished) {
      if (!this.out.stopped) for (const e of this.scanner.finish()) this.onEvent(e);
      this.onFinish();
      this.finished = true;
    }
    return this.take();
  }

  result(): ParsedOutput {
    return { ...this.out, toolCalls: [...this.out.toolCalls], warnings: [...this.out.warnings] };
  }

  protected abstract onEvent(e: MarkerEvent): void;
  protected abstract onFinish(): void;

  protected stopped(): void {
    this.out.stopped = true;
  }

  protected reasoning(text: string): void {
    const t = this.reasoningStream.push(text);
    if (t) {
      this.out.reasoning += t;
      this.delta.reasoning = (this.delta.reasoning ?? '') + t;
    }
  }

  protected content(text: string): void {
    const t = this.contentStream.push(text);
    if (t) {
      this.out.content += t;
      this.delta.content = (this.delta.content ?? '') + t;
    }
  }

  protected reasoningLength(): number {
    return this.out.reasoning.length;
  }

  /** Move the result's reasoning from index `from` on to the end of its content. */
  protected demoteReasoning(from: number): void {
    const moved = this.out.reasoning.slice(from);
    this.out.reasoning = this.out.reasoning.slice(0, from);
    this.out.content += (this.out.content && moved ? '\n' : '') + moved;
  }

  protected toolCall(name: string, args: string): void {
    const call: ToolCall = { index: this.out.toolCalls.length, name, arguments: args };
    this.out.toolCalls.push(call);
    (this.delta.toolCalls ??= []).push(call);
  }

  protected warn(message: string): void {
    this.out.warnings.push(message);
    (this.delta.warnings ??= []).push(message);
  }

  private take(): ChatDelta {
    const d = this.delta;
    this.delta = {};
    return d;
  }
}

/** Arguments JSON text when `text` is valid JSON, else null. */
export function jsonText(text: string): string | null {
  const t = text.trim();
  try {
    JSON.parse(t);
    return t;
  } catch {
    return null;
  }
}
