/**
 * Token ids → text pieces for streaming, never splitting a UTF-8 character: bytes of one character
 * may come from several tokens, so text ending in U+FFFD is held until the next token completes it.
 * Assumes byte-level decoding (Qwen3, DeepSeek-V3, gpt-oss), which is context-free at character boundaries.
 */

export interface TextDecoding {
  decode(ids: ArrayLike<number>, options?: { skipSpecial?: boolean }): string;
}

export class StreamingDetokenizer {
  private pending: number[] = [];

  constructor(
    private readonly tokenizer: TextDecoding,
    private readonly options: { skipSpecial?: boolean } = {},
    /** Give up waiting for a character to complete after this many tokens (invalid bytes stay U+FFFD). */
    private readonly maxHeld = 8,
  ) {}

  push(id: number): string {
    this.pending.push(id);
    const text = this.tokenizer.decode(this.pending, this.options);
    if (text.endsWith('\uFFFD') && this.pending.length < this.maxHeld) return '';
    this.pending = [];
    return text;
  }

  flush(): string {
    const text = this.pending.length ? this.tokenizer.decode(this.pending, this.options) : '';
    this.pending = [];
    return text;
  }
}
