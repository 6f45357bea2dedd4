/**
 * Streaming detokenization: text for each new id, never a broken character. It decodes a short
 * window of recent ids and emits what the window added, holding back while the window ends in an
 * incomplete character (U+FFFD), as the Rust library's DecodeStream does. That covers byte-level
 * BPE and `<0xNN>` byte-fallback tokens alike, and the concatenated output equals `decode(ids)`.
 */
import type { DecodeOptions, Tokenizer } from './types.js';

export class IncrementalDecoder {
  private ids: number[] = [];
  /** ids[prefix..read) were already emitted; they give the window its context. */
  private prefix = 0;
  private read = 0;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly options: DecodeOptions = {},
  ) {}

  /** The text that `id` completes ("" while a multi-byte character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const before = this.tokenizer.decode(this.ids.slice(this.prefix, this.read), this.options);
    const after = this.tokenizer.decode(this.ids.slice(this.prefix), this.options);
    if (after.length <= before.length || after.endsWith('\ufffd')) return '';
    this.ids = this.ids.slice(this.read);
    this.prefix = 0;
    this.read = this.ids.length;
    return after.slice(before.length);
  }

  /** Whatever is held back (an incomplete character becomes U+FFFD); the decoder starts afresh. */
  flush(): string {
    const before = this.tokenizer.decode(this.ids.slice(this.prefix, this.read), this.options);
    const after = this.tokenizer.decode(this.ids.slice(this.prefix), this.options);
    this.ids = [];
    this.prefix = this.read = 0;
    return after.slice(before.length);
  }
}
