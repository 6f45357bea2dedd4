/**
 * Tokenizer built from a Hugging Face `tokenizer.json` (+ `tokenizer_config.json`). Normalizers,
 * pre-tokenizers and non-byte-level decoders come from @huggingface/tokenizers; added-token
 * splitting, BPE and byte-level decoding are Owl's own (faster to load, and able to keep message
 * text from turning into control tokens).
 */
import { Tokenizer as LibTokenizer } from '@huggingface/tokenizers';
import { OwlError } from '../errors.js';
import { BpeModel } from './bpe.js';
import { byteLevelTokenBytes } from './byte-level.js';
import type { AddedTokenInfo, DecodeOptions, EncodeOptions, NamedToken, Tokenizer } from './types.js';

export class TokenizerError extends OwlError {
  override name = 'TokenizerError';
}

export interface TokenizerFiles {
  /** tokenizer.json: its text or the parsed object. */
  tokenizerJson: string | object;
  /** tokenizer_config.json, parsed. */
  tokenizerConfig?: object;
  /** chat_template.jinja; overrides tokenizer_config.json's chat_template. */
  chatTemplate?: string;
  /** Name used in error messages (e.g. the folder). */
  source?: string;
}

/** Build a tokenizer from the files' contents (browser-safe; see node/tokenizer-dir.ts for folders). */
export function loadTokenizer(files: TokenizerFiles): Tokenizer {
  const source = files.source ?? 'tokenizer.json';
  let json: unknown = files.tokenizerJson;
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (e) {
      throw new TokenizerError(`${source}: not valid JSON: ${(e as Error).message}`);
    }
  }
  return new HfTokenizer(json, (files.tokenizerConfig ?? {}) as Record<string, unknown>, files.chatTemplate, source);
}

interface RawAddedToken {
  id: number;
  content: string;
  special?: boolean;
  normalized?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
}

type Piece = string | RawAddedToken;

/** Leftmost-longest matcher over a fixed set of added-token strings. */
class AddedTokenMatcher {
  private readonly re: RegExp | null;
  private readonly byText = new Map<string, RawAddedToken>();

  constructor(tokens: Array<{ text: string; token: RawAddedToken }>) {
    for (const t of tokens) if (t.text && !this.byText.has(t.text)) this.byText.set(t.text, t.token);
    const texts = [...this.byText.keys()].sort((a, b) => b.length - a.length);
    this.re = texts.length ? new RegExp(texts.map(escapeRegExp).join('|'), 'g') : null;
  }

  /** Split text into plain strings and tokens; a match right after `marker` stays text. */
  split(text: string, marker: string | undefined): Piece[] {
    if (!this.re || text.length === 0) return text ? [text] : [];
    const out: Piece[] = [];
    let last = 0;
    this.re.lastIndex = 0;
    for (let m = this.re.exec(text); m; m = this.re.exec(text)) {
      if (marker !== undefined && m.index > 0 && text[m.index - 1] === marker) continue;
      const token = this.byText.get(m[0])!;
      let before = text.slice(last, m.index);
      if (token.lstrip) before = before.trimEnd();
      if (before) out.push(before);
      out.push(token);
      last = m.index + m[0].length;
      if (token.rstrip) {
        while (last < text.length && /\s/.test(text[last])) last++;
        this.re.lastIndex = last;
      }
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  matches(text: string): Array<{ start: number; end: number; id: number }> {
    if (!this.re) return [];
    const out: Array<{ start: number; end: number; id: number }> = [];
    this.re.lastIndex = 0;
    for (let m = this.re.exec(text); m; m = this.re.exec(text)) {
      out.push({ start: m.index, end: m.index + m[0].length, id: this.byText.get(m[0])!.id });
    }
    return out;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

type Callable<A extends unknown[], R> = (...args: A) => R;

/** The encode side of a vocabulary: BPE is Owl's own; other models use the library's. */
interface WordModel {
  encodeWord(word: string, out: number[]): void;
  tokenId(token: string): number | undefined;
}

class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly addedTokens: readonly AddedTokenInfo[];
  readonly namedTokens: Readonly<Record<string, NamedToken>>;
  readonly eosIds: readonly number[];
  readonly config: Readonly<Record<string, unknown>>;
  readonly chatTemplate: string | undefined;
  readonly chatTemplates: Readonly<Record<string, string>>;

  private readonly idToTokenTable: Array<string | undefined>;
  private readonly added = new Map<number, RawAddedToken>();
  private readonly addedByContent = new Map<string, number>();
  private readonly model: WordModel;
  private readonly normalize: Callable<[string], string> | null;
  private readonly preTokenize: Callable<[string, { section_index: number }], string[]> | null;
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher;
  private readonly allMatcher: AddedTokenMatcher;
  /** Decoder for non-byte-level vocabularies (Metaspace, byte fallback, ...); null = byte-level. */
  private readonly libDecode: Callable<[string[]], string> | null;
  private readonly bytesCache: Array<Uint8Array | undefined> = [];
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  constructor(json: unknown, config: Record<string, unknown>, chatTemplate: string | undefined, source: string) {
    const fail = (msg: string): never => {
      throw new TokenizerError(`${source}: ${msg}`);
    };
    if (!isObject(json)) fail('expected a JSON object');
    const tj = json as Record<string, unknown>;
    const model = tj.model;
    if (!isObject(model) || typeof model.type !== 'string') fail('field "model": missing or has no "type"');
    const m = model as Record<string, unknown>;
    const addedRaw = tj.added_tokens ?? [];
    if (!Array.isArray(addedRaw)) fail('field "added_tokens": expected a list');
    const addedList = (addedRaw as unknown[]).map((t, i) => {
      if (!isObject(t) || typeof t.id !== 'number' || typeof t.content !== 'string')
        fail(`field "added_tokens[${i}]": expected {id, content}`);
      return t as unknown as RawAddedToken;
    });
    this.config = config;

    const ownBpe =
      m.type === 'BPE' && isObject(m.vocab) && Array.isArray(m.merges) && !m.continuing_subword_prefix && !m.end_of_word_suffix;
    // A final ByteLevel step (no regex, no prefix space) is left to the BPE model, which maps a
    // word to bytes only when it is not cached; the library runs the steps before it.
    const pre = tj.pre_tokenizer;
    const isPlainByteLevel = (c: unknown) => isObject(c) && c.type === 'ByteLevel' && c.use_regex === false && !c.add_prefix_space;
    const steps = isObject(pre) && pre.type === 'Sequence' && Array.isArray(pre.pretokenizers) ? (pre.pretokenizers as unknown[]) : null;
    let byteLevelWords = false;
    let libPre: unknown = pre;
    if (ownBpe && isPlainByteLevel(pre)) {
      byteLevelWords = true;
      libPre = null;
    } else if (ownBpe && steps && steps.length > 0 && isPlainByteLevel(steps[steps.length - 1])) {
      byteLevelWords = true;
      libPre = { type: 'Sequence', pretokenizers: steps.slice(0, -1) };
    }
    let lib: LibTokenizer;
    try {
      // With Owl's own BPE the library only supplies normalizer / pre-tokenizer / decoder, so give it an empty model.
      const libJson = ownBpe ? { ...tj, model: { ...m, vocab: {}, merges: [] }, pre_tokenizer: libPre } : tj;
      lib = new LibTokenizer(libJson, config);
    } catch (e) {
      throw new TokenizerError(`${source}: unsupported or malformed tokenizer: ${(e as Error).message}`);
    }
    this.normalize = lib.normalizer ? (s) => (lib.normalizer as unknown as Callable<[string], string>)(s) : null;
    this.preTokenize = lib.pre_tokenizer
      ? (s, o) => (lib.pre_tokenizer as unknown as Callable<[string, object], string[]>)(s, o)
      : null;

    let vocabTokens: Array<string | undefined>;
    if (ownBpe) {
      const vocab = m.vocab as Record<string, number>;
      const unk = typeof m.unk_token === 'string' ? vocab[m.unk_token] : undefined;
      const bpe = new BpeModel(vocab, m.merges as Array<string | string[]>, {
        ignoreMerges: m.ignore_merges === true,
        byteFallback: m.byte_fallback === true,
        unkId: typeof unk === 'number' ? unk : undefined,
        fuseUnk: m.fuse_unk === true,
        byteLevel: byteLevelWords,
      });
      this.model = bpe;
      vocabTokens = bpe.tokens.slice();
    } else {
      const libModel = lib.model as unknown as {
        (tokens: string[]): string[];
        tokens_to_ids: Map<string, number>;
        vocab: string[];
      };
      this.model = {
        encodeWord(word, out) {
          for (const t of libModel([word])) {
            const id = libModel.tokens_to_ids.get(t);
            if (id !== undefined) out.push(id);
          }
        },
        tokenId: (t) => libModel.tokens_to_ids.get(t),
      };
      vocabTokens = [...libModel.vocab];
    }

    for (const t of addedList) {
      this.added.set(t.id, t);
      this.addedByContent.set(t.content, t.id);
      vocabTokens[t.id] = t.content;
    }
    this.idToTokenTable = vocabTokens;
    this.vocabSize = vocabTokens.length;
    this.addedTokens = addedList.map((t) => ({ id: t.id, content: t.content, special: t.special === true }));

    // Added tokens flagged `normalized` are matched in normalized text (a second pass), like the Rust library.
    const normalizedLate = (t: RawAddedToken) => (t.normalized ?? !t.special) && this.normalize !== null;
    this.rawMatcher = new AddedTokenMatcher(addedList.filter((t) => !normalizedLate(t)).map((t) => ({ text: t.content, token: t })));
    this.normalizedMatcher = new AddedTokenMatcher(
      addedList.filter(normalizedLate).map((t) => ({ text: this.normalize!(t.content), token: t })),
    );
    this.allMatcher = new AddedTokenMatcher(addedList.map((t) => ({ text: t.content, token: t })));

    const decoder = tj.decoder as Record<string, unknown> | null | undefined;
    const byteLevelDecoder = isObject(decoder) && decoder.type === 'ByteLevel';
    this.libDecode = byteLevelDecoder
      ? null
      : lib.decoder
        ? (tokens) => (lib.decoder as unknown as Callable<[string[]], string>)(tokens)
        : (tokens) => tokens.join(' ');

    const named: Record<string, NamedToken> = {};
    for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
      const v = config[key];
      const content = typeof v === 'string' ? v : isObject(v) && typeof v.content === 'string' ? v.content : undefined;
      if (content === undefined) continue;
      const id = this.tokenToId(content);
      if (id !== undefined) named[key.replace(/_token$/, '')] = { id, content };
    }
    this.namedTokens = named;
    this.eosIds = named.eos ? [named.eos.id] : [];

    const templates: Record<string, string> = {};
    const ct = config.chat_template;
    if (typeof ct === 'string') templates.default = ct;
    else if (Array.isArray(ct)) {
      for (const entry of ct) if (isObject(entry) && typeof entry.name === 'string' && typeof entry.template === 'string') templates[entry.name] = entry.template;
    }
    if (chatTemplate !== undefined) templates.default = chatTemplate;
    this.chatTemplates = templates;
    this.chatTemplate = templates.default;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (options.specials === false) {
      this.encodeSection(text, 0, out, undefined, false);
      return out;
    }
    const marker = options.contentMarker;
    this.rawMatcher.split(text, marker).forEach((piece, section) => {
      if (typeof piece !== 'string') out.push(piece.id);
      else this.encodeSection(piece, section, out, marker, true);
    });
    return out;
  }

  /** Normalize, split on normalized added tokens, pre-tokenize and run the model. */
  private encodeSection(text: string, section: number, out: number[], marker: string | undefined, matchAdded: boolean): void {
    const normalized = this.normalize ? this.normalize(text) : text;
    for (const piece of matchAdded ? this.normalizedMatcher.split(normalized, marker) : [normalized]) {
      if (typeof piece !== 'string') {
        out.push(piece.id);
        continue;
      }
      const plain = marker === undefined ? piece : piece.split(marker).join('');
      if (!plain) continue;
      const words = this.preTokenize ? this.preTokenize(plain, { section_index: section }) : [plain];
      for (const w of words) this.model.encodeWord(w, out);
    }
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = (id: number) => options.skipSpecial === true && this.added.get(id)?.special === true;
    if (this.libDecode) {
      const tokens: string[] = [];
      for (let i = 0; i < ids.length; i++) {
        const token = this.idToTokenTable[ids[i]];
        if (token !== undefined && !skip(ids[i])) tokens.push(token);
      }
      return tokens.length ? this.libDecode(tokens) : '';
    }
    // Byte-level: concatenate every token's bytes, then one lossy UTF-8 decode (as the Rust decoder).
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = skip(ids[i]) ? undefined : this.tokenBytes(ids[i]);
      if (b) {
        parts.push(b);
        total += b.length;
      }
    }
    const bytes = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
    return this.utf8.decode(bytes);
  }

  private tokenBytes(id: number): Uint8Array | undefined {
    let b = this.bytesCache[id];
    if (b === undefined) {
      const token = this.idToTokenTable[id];
      if (token === undefined) return undefined;
      b = byteLevelTokenBytes(token);
      this.bytesCache[id] = b;
    }
    return b;
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token) ?? this.model.tokenId(token);
  }

  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  isAdded(id: number): boolean {
    return this.added.has(id);
  }

  isSpecial(id: number): boolean {
    return this.added.get(id)?.special === true;
  }

  findAddedTokens(text: string): Array<{ start: number; end: number; id: number }> {
    return this.allMatcher.matches(text);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
