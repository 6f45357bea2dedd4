/**
 * Tokenizers in GGUF metadata (tokenizer.ggml.*: model "gpt2" = byte-level BPE, tokens, token types,
 * merges, pre-tokenizer name, special ids, chat template) <-> Hugging Face tokenizer.json objects.
 * Reading makes a GGUF file enough to chat; writing mirrors llama.cpp's converter. For checkpoints
 * without a tokenizer (the test fixtures) it makes a valid byte-level vocabulary of exactly vocab_size tokens.
 */
import { BYTE_TO_CHAR } from '../tokenizer/byte-level.js';
import { GgufType, TOKEN_TYPE } from './constants.js';
import { GgufError, metaValue, type GgufHeader, type GgufKv } from './reader.js';
import type { GgufArch } from './tensor-map.js';
import { kv } from './writer.js';

type Json = Record<string, unknown>;

const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean, useRegex: boolean) => ({
  type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: trimOffsets, use_regex: useRegex,
});
const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });

/** llama.cpp pre-tokenizer names (tokenizer.ggml.pre) and the tokenizer.json parts they stand for. */
export const PRE_TOKENIZERS: Record<string, { normalizer: Json | null; pre_tokenizer: Json; ignoreMerges: boolean }> = {
  qwen2: {
    normalizer: { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
        byteLevel(false, false, false),
      ],
    },
    ignoreMerges: false,
  },
  'deepseek-v3': {
    normalizer: { type: 'Sequence', normalizers: [] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        split('\\p{N}{1,3}'),
        split('[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+'),
        split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
        byteLevel(false, true, false),
      ],
    },
    ignoreMerges: false,
  },
  'gpt-4o': {
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        split(
          "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        ),
        byteLevel(false, true, false),
      ],
    },
    ignoreMerges: true,
  },
};

/** The pre-tokenizer each family's published tokenizer uses. */
export const FAMILY_PRE: Record<GgufArch, string> = { qwen3: 'qwen2', qwen3moe: 'qwen2', deepseek2: 'deepseek-v3', 'gpt-oss': 'gpt-4o' };

/** tokenizer.json + tokenizer_config.json equivalents (the shape src/tokenizer's loadTokenizer takes). */
export interface TokenizerObjects {
  tokenizerJson: Json;
  tokenizerConfig: Json;
  chatTemplate?: string;
}

/** Build tokenizer.json (and tokenizer_config.json) objects from a GGUF file's tokenizer metadata. */
export function tokenizerFromGguf(h: GgufHeader): TokenizerObjects {
  const get = (k: string) => metaValue(h, `tokenizer.ggml.${k}`);
  const fail = (k: string, msg: string): never => {
    throw new GgufError(`${h.file}: metadata "tokenizer.ggml.${k}" ${msg}`);
  };
  const model = get('model');
  if (model === undefined) fail('model', 'is missing: the file has no tokenizer');
  if (model !== 'gpt2') fail('model', `is "${String(model)}": only byte-level BPE ("gpt2") tokenizers are supported`);
  const pre = (get('pre') ?? 'default') as string;
  const preParts = PRE_TOKENIZERS[pre];
  if (!preParts) fail('pre', `is "${pre}": unknown pre-tokenizer (supported: ${Object.keys(PRE_TOKENIZERS).join(', ')})`);
  const tokens = get('tokens');
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) return fail('tokens', 'must be an array of strings');
  const types = (get('token_type') ?? []) as number[];
  if (!Array.isArray(types) || (types.length !== 0 && types.length !== tokens.length)) fail('token_type', `must have one entry per token (${tokens.length})`);
  const merges = get('merges') ?? [];
  if (!Array.isArray(merges) || !merges.every((m) => typeof m === 'string')) fail('merges', 'must be an array of strings');

  const vocab: Record<string, number> = Object.create(null);
  const added: Json[] = [];
  tokens.forEach((t: string, id: number) => {
    const type = types[id] ?? TOKEN_TYPE.NORMAL;
    if (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.USER_DEFINED)
      added.push({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: type === TOKEN_TYPE.USER_DEFINED, special: type === TOKEN_TYPE.CONTROL });
    else if (type !== TOKEN_TYPE.UNUSED && !(t in vocab)) vocab[t] = id;
  });
  const id = (k: string) => {
    const v = get(`${k}_token_id`);
    if (v === undefined) return null;
    if (typeof v !== 'number' || v < 0 || v >= tokens.length) fail(`${k}_token_id`, `${String(v)} is not a token id`);
    return v as number;
  };
  const bos = id('bos');
  const eos = id('eos');
  const pad = id('padding');
  const addBos = get('add_bos_token') === true && bos !== null;
  const bosText = bos === null ? null : tokens[bos]!;
  const tokenizerJson: Json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: preParts.normalizer,
    pre_tokenizer: preParts.pre_tokenizer,
    post_processor: addBos
      ? {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bosText, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: bosText, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bosText, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
          special_tokens: { [bosText!]: { id: bosText, ids: [bos], tokens: [bosText] } },
        }
      : byteLevel(false, false, false),
    decoder: byteLevel(false, false, false),
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: preParts.ignoreMerges, vocab, merges,
    },
  };
  const template = metaValue(h, 'tokenizer.chat_template');
  const tokenizerConfig: Json = {
    add_bos_token: addBos,
    bos_token: bosText,
    eos_token: eos === null ? null : tokens[eos],
    pad_token: pad === null ? null : tokens[pad],
  };
  if (typeof template === 'string') tokenizerConfig.chat_template = template;
  return { tokenizerJson, tokenizerConfig, ...(typeof template === 'string' ? { chatTemplate: template } : {}) };
}

/** Tokenizer keys for a GGUF file from a Hugging Face tokenizer.json (+ tokenizer_config.json), as llama.cpp's converter writes them. */
export function tokenizerToGguf(json: Json, config: Json, vocabSize: number, chatTemplate: string | undefined, where: string): GgufKv[] {
  const fail = (msg: string): never => {
    throw new GgufError(`${where}: ${msg}`);
  };
  const model = json.model as Json | undefined;
  if (!model || model.type !== 'BPE') fail('only BPE tokenizers can be written to GGUF');
  const pre = Object.entries(PRE_TOKENIZERS).find(([, p]) => JSON.stringify(p.pre_tokenizer) === JSON.stringify(json.pre_tokenizer))?.[0];
  if (!pre) fail(`its pre-tokenizer matches none llama.cpp knows by name (${Object.keys(PRE_TOKENIZERS).join(', ')})`);
  const byId = new Map<number, { text: string; type: number }>();
  for (const [t, id] of Object.entries(model!.vocab as Record<string, number>)) byId.set(id, { text: t, type: TOKEN_TYPE.NORMAL });
  const addedTokens = (json.added_tokens ?? []) as Array<{ id: number; content: string; special?: boolean }>;
  for (const a of addedTokens) {
    const looksSpecial = /^<\|.*\|>$/.test(a.content) || /^<｜.*｜>$/.test(a.content);
    byId.set(a.id, { text: a.content, type: a.special || looksSpecial ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.USER_DEFINED });
  }
  let maxId = -1;
  for (const id of byId.keys()) maxId = Math.max(maxId, id);
  if (maxId >= vocabSize) fail(`token id ${maxId} does not fit the model's vocab_size ${vocabSize}`);
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < vocabSize; i++) {
    const t = byId.get(i);
    tokens.push(t ? t.text : `[PAD${i}]`);
    types.push(t ? t.type : TOKEN_TYPE.UNUSED);
  }
  // Pairs (newer tokenizer.json) become "a b", with spaces inside a part written as U+0120 like the converter.
  const merges = ((model!.merges ?? []) as Array<string | string[]>).map((m) =>
    typeof m === 'string' ? m : m.map((p) => p.replace(/ /g, '\u0120')).join(' '),
  );
  const idOf = (k: string) => {
    const v = config[k];
    const text = typeof v === 'string' ? v : typeof v === 'object' && v !== null ? (v as Json).content : undefined;
    if (typeof text !== 'string') return undefined;
    const i = tokens.indexOf(text);
    return i >= 0 ? i : undefined;
  };
  const out: GgufKv[] = [
    kv.str('tokenizer.ggml.model', 'gpt2'),
    kv.str('tokenizer.ggml.pre', pre!),
    kv.arr('tokenizer.ggml.tokens', GgufType.STRING, tokens),
    kv.arr('tokenizer.ggml.token_type', GgufType.INT32, types),
    kv.arr('tokenizer.ggml.merges', GgufType.STRING, merges),
  ];
  for (const [k, key] of [['bos_token', 'bos'], ['eos_token', 'eos'], ['unk_token', 'unknown'], ['pad_token', 'padding']] as const) {
    const i = idOf(k);
    if (i !== undefined) out.push(kv.u32(`tokenizer.ggml.${key}_token_id`, i));
  }
  for (const k of ['add_bos_token', 'add_eos_token'] as const)
    if (typeof config[k] === 'boolean') out.push(kv.bool(`tokenizer.ggml.${k}`, config[k] as boolean));
  const template = chatTemplate ?? (typeof config.chat_template === 'string' ? config.chat_template : undefined);
  if (template !== undefined) out.push(kv.str('tokenizer.chat_template', template));
  return out;
}

/**
 * A valid byte-level BPE tokenizer of exactly vocabSize tokens for a checkpoint that ships none:
 * the 256 byte tokens, then merges of short ASCII pieces ("Ġt", "ab", ...) in a fixed order. It lets
 * llama.cpp load a converted test model; it is not the model's real vocabulary.
 */
export function syntheticTokenizer(vocabSize: number, arch: GgufArch, special: { bos: number | null; eos: number | null }): TokenizerObjects {
  if (vocabSize < 256) throw new GgufError(`vocab_size ${vocabSize} is too small for a byte-level vocabulary (256); pass --tokenizer`);
  const vocab: Record<string, number> = Object.create(null);
  BYTE_TO_CHAR.forEach((c, b) => (vocab[c] = b));
  const merges: string[] = [];
  const pieces = [BYTE_TO_CHAR[32]!, ...'etaoinsrhldcumfpgwybvkxjqz', ...'ETAOINSRHLDCUMFPGWYBVKXJQZ', ...'0123456789'];
  let frontier = pieces;
  let n = 256;
  while (n < vocabSize) {
    const next: string[] = [];
    for (const a of frontier)
      for (const b of pieces.slice(1)) {
        const t = a + b;
        if (n >= vocabSize || t in vocab) continue;
        vocab[t] = n++;
        merges.push(`${a} ${b}`);
        next.push(t);
      }
    frontier = next;
  }
  const pre = PRE_TOKENIZERS[FAMILY_PRE[arch]]!;
  const textOf = (id: number | null) => (id === null ? null : Object.keys(vocab).find((t) => vocab[t] === id) ?? null);
  return {
    tokenizerJson: {
      version: '1.0', truncation: null, padding: null, added_tokens: [],
      normalizer: pre.normalizer, pre_tokenizer: pre.pre_tokenizer,
      post_processor: byteLevel(false, false, false), decoder: byteLevel(false, false, false),
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: pre.ignoreMerges, vocab, merges },
    },
    tokenizerConfig: { add_bos_token: false, add_eos_token: false, bos_token: textOf(special.bos), eos_token: textOf(special.eos) },
  };
}
