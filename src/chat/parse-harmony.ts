/**
 * Parser for Harmony (GPT-OSS) output: messages `<|start|>ROLE[ to=RECIPIENT]<|channel|>CHANNEL
 * [<|constrain|>TYPE]<|message|>BODY` ended by `<|end|>`, `<|return|>` (final answer) or `<|call|>`
 * (tool call). analysis -> reasoning; final and commentary without recipient -> content; a message
 * with a recipient -> tool call. A broken header or invalid tool JSON becomes content with a warning.
 */
import type { Tokenizer } from '../tokenizer/types.js';
import { jsonText, MarkerScanner, ParserBase, type MarkerEvent } from './parse.js';

const MARKERS = {
  start: '<|start|>',
  channel: '<|channel|>',
  message: '<|message|>',
  constrain: '<|constrain|>',
  end: '<|end|>',
  return: '<|return|>',
  call: '<|call|>',
};
const CHANNELS = new Set(['analysis', 'commentary', 'final']);
/** A header longer than this without `<|message|>` is not a header. */
const MAX_HEADER = 256;

interface Header {
  channel: string | null;
  recipient: string | null;
  contentType: string | null;
}

type State = 'header' | 'body' | 'between' | 'done';

export class HarmonyParser extends ParserBase {
  private state: State = 'header';
  /** The header so far (from the prompt, then generated), markers spelled out. */
  private header = '';
  /** The generated part of the header, for degrading it to content. */
  private generatedHeader = '';
  private current: Header = { channel: null, recipient: null, contentType: null };
  private toolBody = '';

  /** `stopIds` should hold <|return|> and <|call|> as markers, so only extra stops (e.g. <|endoftext|>) go here. */
  constructor(tokenizer: Tokenizer, stopIds: ReadonlySet<number>, promptText?: string) {
    super(new MarkerScanner(tokenizer, MARKERS, stopIds));
    // The prompt normally ends with "<|start|>assistant"; it may also end inside a message (prefill).
    const tail = promptText === undefined ? 'assistant' : promptText.slice(promptText.lastIndexOf(MARKERS.start) + MARKERS.start.length);
    const at = tail.indexOf(MARKERS.message);
    if (promptText !== undefined && promptText.lastIndexOf(MARKERS.start) < 0) this.state = 'between';
    else if (at >= 0 && !/<\|(end|return|call)\|>/.test(tail)) {
      this.current = parseHeader(tail.slice(0, at)) ?? { channel: null, recipient: null, contentType: null };
      this.state = 'body';
    } else if (at < 0) this.header = tail;
    else this.state = 'between';
  }

  protected onEvent(e: MarkerEvent): void {
    if (e.kind === 'stop') {
      this.endMessage('stop token');
      this.stopped();
      this.state = 'done';
      return;
    }
    if (e.kind === 'control') {
      this.warn(`ignored unexpected control token ${e.text}`);
      return;
    }
    if (e.kind === 'text') return this.text(e.text);
    switch (this.state) {
      case 'header':
        return this.headerMarker(e.name, e.text);
      case 'body':
        return this.bodyMarker(e.name, e.text);
      case 'between':
        if (e.name === 'start') this.newHeader('');
        else if (e.name === 'channel') this.newHeader(e.text); // role omitted: assume assistant
        else this.warn(`ignored ${e.text} between messages`);
        return;
      case 'done':
        return;
    }
  }

  protected onFinish(): void {
    if (this.state === 'header' && this.generatedHeader.trim()) this.degradeHeader('unfinished message header at end of output');
    else if (this.state === 'body') this.endMessage('end of output', true);
  }

  private text(text: string): void {
    switch (this.state) {
      case 'header':
        this.header += text;
        this.generatedHeader += text;
        if (this.generatedHeader.length > MAX_HEADER) {
          this.degradeHeader('message header too long (no <|message|>)');
          this.state = 'body';
        }
        return;
      case 'body':
        return this.bodyText(text);
      case 'between':
        if (text.trim()) {
          this.warn('text outside a message; read as a header');
          this.newHeader(text);
        }
        return;
      case 'done':
        return;
    }
  }

  private newHeader(initial: string): void {
    this.state = 'header';
    this.header = initial;
    this.generatedHeader = initial;
    this.current = { channel: null, recipient: null, contentType: null };
  }

  private headerMarker(name: string, text: string): void {
    if (name === 'channel' || name === 'constrain') {
      this.header += text;
      this.generatedHeader += text;
    } else if (name === 'message') {
      const h = parseHeader(this.header);
      if (h) this.current = h;
      else {
        this.warn(`broken message header "${this.header}"; message kept as content`);
        this.current = { channel: null, recipient: null, contentType: null };
      }
      this.toolBody = '';
      this.state = 'body';
      this.contentOrReasoningBoundary();
    } else if (name === 'start') {
      if (this.generatedHeader.trim()) this.warn(`ignored unfinished header "${this.generatedHeader}"`);
      this.newHeader('');
    } else {
      // <|end|>, <|return|> or <|call|> before <|message|>
      if (this.generatedHeader.trim()) this.degradeHeader(`message header ended by ${text}`);
      this.state = name === 'end' ? 'between' : 'done';
      if (name !== 'end') this.stopped();
    }
  }

  private bodyMarker(name: string, text: string): void {
    if (name === 'end') {
      this.endMessage(text);
      this.state = 'between';
    } else if (name === 'return' || name === 'call') {
      if (name === 'call' && !this.current.recipient) this.warn('<|call|> ended a message that has no recipient');
      this.endMessage(text);
      this.stopped();
      this.state = 'done';
    } else if (name === 'start') {
      this.endMessage('a new <|start|>', true);
      this.newHeader('');
    } else {
      this.warn(`${text} inside a message body kept as text`);
      this.bodyText(text);
    }
  }

  private bodyText(text: string): void {
    const h = this.current;
    if (h.recipient) this.toolBody += text;
    else if (h.channel === 'analysis') this.reasoning(text);
    else this.content(text);
  }

  private contentOrReasoningBoundary(): void {
    this.reasoningStream.boundary();
    this.contentStream.boundary();
  }

  /** End of the current message: a tool message becomes a tool call (or content, if broken). */
  private endMessage(why: string, unterminated = false): void {
    const h = this.current;
    if (h.recipient) {
      const name = h.recipient.startsWith('functions.') ? h.recipient.slice('functions.'.length) : h.recipient;
      const needsJson = h.contentType === 'json' || h.recipient.startsWith('functions.');
      const args = needsJson ? jsonText(this.toolBody) : this.toolBody;
      if (unterminated) {
        this.warn(`tool call to ${h.recipient} not terminated (${why}); kept as content`);
        this.content(this.toolBody);
      } else if (!name || args === null) {
        this.warn(`tool call to ${h.recipient} has invalid JSON arguments; kept as content`);
        this.content(this.toolBody);
      } else this.toolCall(name, args);
    } else if (unterminated) this.warn(`message not terminated (${why})`);
    this.toolBody = '';
    this.current = { channel: null, recipient: null, contentType: null };
    this.contentOrReasoningBoundary();
  }

  private degradeHeader(why: string): void {
    this.warn(`${why}; kept as content`);
    this.current = { channel: null, recipient: null, contentType: null };
    this.content(this.generatedHeader);
    this.header = this.generatedHeader = '';
  }
}

/** "assistant to=functions.f<|channel|>commentary <|constrain|>json" -> its parts, or null if broken. */
function parseHeader(header: string): Header | null {
  const at = header.indexOf(MARKERS.channel);
  if (at < 0) return null;
  const rolePart = header.slice(0, at);
  let chanPart = header.slice(at + MARKERS.channel.length);
  const role = rolePart.replace(/\bto=\S+/, '').trim();
  if (role !== '' && role !== 'assistant') return null;
  const to = /(?:^|\s)to=([^\s<]+)/.exec(rolePart) ?? /(?:^|\s)to=([^\s<]+)/.exec(chanPart);
  chanPart = chanPart.replace(/(?:^|\s)to=[^\s<]+/, ' ');
  const m = /^\s*([A-Za-z_]+)\s*(?:<\|constrain\|>\s*)?([^\s<]*)\s*$/.exec(chanPart);
  if (!m || !CHANNELS.has(m[1])) return null;
  return { channel: m[1], recipient: to ? to[1] : null, contentType: m[2] || null };
}
