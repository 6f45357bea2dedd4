/**
 * The GPT-2 byte-level alphabet: each of the 256 byte values is written as one printable character,
 * so that byte-level BPE vocabularies (Qwen3, DeepSeek-V3, o200k) are plain strings.
 */

/** BYTE_TO_CHAR[b] is the character that stands for byte b. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : next++));
  return out;
})();

/** Code unit of a byte-level character -> byte value, or -1 for characters outside the alphabet. */
const CHAR_TO_BYTE = (() => {
  const table = new Int16Array(324).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (table[c.charCodeAt(0)] = b));
  return table;
})();

const utf8 = new TextEncoder();

/**
 * The bytes a byte-level token stands for. Like the Rust ByteLevel decoder, a token with any
 * character outside the alphabet (e.g. an added token such as `<｜User｜>`) stands for its UTF-8.
 */
export function byteLevelTokenBytes(token: string): Uint8Array {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const b = code < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[code] : -1;
    if (b < 0) return utf8.encode(token);
    out[i] = b;
  }
  return out;
}
