/** Owl's tokenizer interface: what generation, chat formats and the server use. */

/** A token added on top of the model vocabulary (control tokens such as `<|im_start|>`, `<think>`). */
export interface AddedTokenInfo {
  id: number;
  content: string;
  /** `special: true` in tokenizer.json: skipped by `decode(ids, { skipSpecial: true })`. */
  special: boolean;
}

export interface EncodeOptions {
  /**
   * Match added tokens (special or not) written literally in the text, as the Rust library and
   * transformers do (default true). false: the text is encoded as plain text only.
   */
  specials?: boolean;
  /**
   * Used by chat rendering: an added token directly after this character is encoded as plain text,
   * and every occurrence of the character is dropped.
   */
  contentMarker?: string;
}

export interface DecodeOptions {
  /** Leave out special added tokens (default false). */
  skipSpecial?: boolean;
}

/** A named special token from tokenizer_config.json (bos_token, eos_token, ...). */
export interface NamedToken {
  id: number;
  content: string;
}

export interface Tokenizer {
  /** Largest id + 1 (vocabulary and added tokens). */
  readonly vocabSize: number;
  encode(text: string, options?: EncodeOptions): number[];
  /** Decode ids; an empty list gives "". Unknown ids are skipped. */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  readonly addedTokens: readonly AddedTokenInfo[];
  /** Is this id an added token (special or not)? */
  isAdded(id: number): boolean;
  /** Is this id a special added token? */
  isSpecial(id: number): boolean;
  /** Added-token texts in `text`, leftmost-longest, without normalization. */
  findAddedTokens(text: string): Array<{ start: number; end: number; id: number }>;
  /** bos/eos/pad/unk/... from tokenizer_config.json, when set and known to the vocabulary. */
  readonly namedTokens: Readonly<Record<string, NamedToken>>;
  /** The end-of-sequence id(s) from tokenizer_config.json. */
  readonly eosIds: readonly number[];
  /** tokenizer_config.json as loaded ({} when absent). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The chat template shipped with the tokenizer (chat_template.jinja or tokenizer_config.json), if any. */
  readonly chatTemplate: string | undefined;
  /** All named templates when tokenizer_config.json holds a list of {name, template}. */
  readonly chatTemplates: Readonly<Record<string, string>>;
}
