/**
 * What every chat format shares: transformers' `continue_final_message` cut, and turning the
 * rendered text into ids so that control tokens come only from the template, never from content.
 *
 * Provenance: strings from the caller (messages, tools, kwargs) that contain added-token text are
 * rendered a second time with a private marker character before each such token. In the marked
 * text, a token preceded by the marker came from content; the control tokens of both renders are
 * paired in order and the content ones are encoded as plain text in the real render. Should the
 * two renders disagree on their control tokens (a template that branches on them), every occurrence
 * of a token that appears in caller strings is encoded as text: safe, if conservative.
 */
import type { Tokenizer } from '../tokenizer/types.js';
import { TemplateError } from './errors.js';
import { pyLstrip, pyStrip } from './python.js';
import type { ChatKwargs, ChatMessage, RenderedChat } from './types.js';

/** Renders messages + kwargs (continue_final_message already removed) to text. */
export type TextRenderer = (messages: ChatMessage[], kwargs: ChatKwargs) => string;

export function renderChat(tokenizer: Tokenizer, renderText: TextRenderer, messages: ChatMessage[], kwargs: ChatKwargs): RenderedChat {
  if (!Array.isArray(messages)) throw new TemplateError('messages: expected a list of {role, content} objects');
  const { continue_final_message: continueFinal, ...templateKwargs } = kwargs;
  if (continueFinal && templateKwargs.add_generation_prompt) {
    throw new TemplateError('continue_final_message and add_generation_prompt are not compatible: use one or the other');
  }
  const render = (msgs: ChatMessage[], kw: ChatKwargs) => {
    const text = renderText(msgs, kw);
    return continueFinal ? cutAfterFinalMessage(text, msgs) : text;
  };
  const text = render(messages, templateKwargs);

  const callerStrings: string[] = [];
  collectStrings([messages, templateKwargs], callerStrings);
  const tainted = callerStrings.filter((s) => tokenizer.findAddedTokens(s).length > 0);
  if (tainted.length === 0) return { text, ids: tokenizer.encode(text) };

  const marker = pickMarker(text, callerStrings);
  const mark = (s: string) => markTokens(tokenizer, s, marker, () => true);
  let marked: string | null;
  try {
    marked = render(mapStrings(messages, mark) as ChatMessage[], mapStrings(templateKwargs, mark) as ChatKwargs);
  } catch {
    marked = null; // the template objects to the marked strings: fall back to the conservative rule
  }
  // Pair the control tokens of both renders in order; when they agree, the marks say which came from content.
  const inMarked = marked === null ? [] : tokenizer.findAddedTokens(marked);
  const inText = tokenizer.findAddedTokens(text);
  if (marked !== null && inMarked.length === inText.length && inMarked.every((m, i) => m.id === inText[i].id)) {
    const markedText = marked;
    const fromContent = new Set(inMarked.flatMap((m, i) => (m.start > 0 && markedText[m.start - 1] === marker ? [inText[i].start] : [])));
    return { text, ids: tokenizer.encode(markTokens(tokenizer, text, marker, (m) => fromContent.has(m.start)), { contentMarker: marker }) };
  }
  const contentTokens = new Set<number>();
  for (const s of tainted) for (const m of tokenizer.findAddedTokens(s)) contentTokens.add(m.id);
  return { text, ids: tokenizer.encode(markTokens(tokenizer, text, marker, (m) => contentTokens.has(m.id)), { contentMarker: marker }) };
}

/** transformers: with continue_final_message the text ends right after the final message's content. */
export function cutAfterFinalMessage(text: string, messages: ChatMessage[]): string {
  const last = messages[messages.length - 1] as ChatMessage | undefined;
  let final: unknown = last?.content;
  if (Array.isArray(final)) {
    const block = [...final].reverse().find((b) => typeof b === 'object' && b !== null && 'text' in b) as { text?: unknown } | undefined;
    if (!block) throw new TemplateError('continue_final_message is set but we could not find any text to continue in the final message!');
    final = block.text;
  }
  if (typeof final !== 'string') throw new TemplateError('continue_final_message: the final message has no string content');
  const stripped = pyStrip(final);
  const loc = text.lastIndexOf(stripped);
  if (loc < 0) {
    throw new TemplateError('continue_final_message is set but the final message does not appear in the chat after applying the chat template');
  }
  const lstripped = pyLstrip(final);
  if (text.slice(loc, loc + lstripped.length) === final) return text.slice(0, loc + lstripped.length);
  return text.slice(0, loc + stripped.length);
}

function collectStrings(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) collectStrings(x, out);
  else if (typeof v === 'object' && v !== null) {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      collectStrings(x, out);
    }
  }
}

/** A deep copy with every string (keys too) passed through f. */
function mapStrings(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f));
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [f(k), mapStrings(x, f)]));
  }
  return v;
}

/** A private-use character that occurs nowhere in the text or the caller's strings. */
function pickMarker(text: string, strings: string[]): string {
  for (let c = 0xe000; c <= 0xf8ff; c++) {
    const m = String.fromCharCode(c);
    if (!text.includes(m) && !strings.some((s) => s.includes(m))) return m;
  }
  throw new TemplateError('cannot render safely: the messages use every private-use character');
}

/** Put the marker before each added-token occurrence that `which` selects. */
function markTokens(tokenizer: Tokenizer, s: string, marker: string, which: (m: { start: number; id: number }) => boolean): string {
  const found = tokenizer.findAddedTokens(s);
  if (found.length === 0) return s;
  let out = '';
  let last = 0;
  for (const m of found) {
    if (!which(m)) continue;
    out += s.slice(last, m.start) + marker;
    last = m.start;
  }
  return out + s.slice(last);
}
