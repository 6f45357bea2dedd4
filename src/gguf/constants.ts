/**
 * GGUF container constants (ggml docs/gguf.md, gguf-py constants.py), declared as data:
 * value types of the metadata, tensor (ggml) types with their block sizes, file types.
 */

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml tensors have at most 4 dimensions. */
export const GGML_MAX_DIMS = 4;

/** Metadata value types (gguf_type). */
export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Bytes of each fixed-size scalar value type. */
export const GGUF_SCALAR_BYTES: Partial<Record<GgufType, number>> = {
  [GgufType.UINT8]: 1,
  [GgufType.INT8]: 1,
  [GgufType.UINT16]: 2,
  [GgufType.INT16]: 2,
  [GgufType.UINT32]: 4,
  [GgufType.INT32]: 4,
  [GgufType.FLOAT32]: 4,
  [GgufType.BOOL]: 1,
  [GgufType.UINT64]: 8,
  [GgufType.INT64]: 8,
  [GgufType.FLOAT64]: 8,
};

export interface GgmlTypeInfo {
  id: number;
  name: string;
  /** Elements per block (1 for plain scalars). */
  blockElements: number;
  /** Bytes per block. */
  blockBytes: number;
}

/**
 * Every ggml tensor type a GGUF file may name, so a file is validated (sizes, offsets) even when a
 * tensor's type cannot be decoded yet. Ids 4, 5 (Q4_2/Q4_3) and 31-33, 36-38 were removed from ggml.
 */
export const GGML_TYPES: readonly GgmlTypeInfo[] = [
  ['F32', 0, 1, 4],
  ['F16', 1, 1, 2],
  ['Q4_0', 2, 32, 18],
  ['Q4_1', 3, 32, 20],
  ['Q5_0', 6, 32, 22],
  ['Q5_1', 7, 32, 24],
  ['Q8_0', 8, 32, 34],
  ['Q8_1', 9, 32, 40],
  ['Q2_K', 10, 256, 84],
  ['Q3_K', 11, 256, 110],
  ['Q4_K', 12, 256, 144],
  ['Q5_K', 13, 256, 176],
  ['Q6_K', 14, 256, 210],
  ['Q8_K', 15, 256, 292],
  ['IQ2_XXS', 16, 256, 66],
  ['IQ2_XS', 17, 256, 74],
  ['IQ3_XXS', 18, 256, 98],
  ['IQ1_S', 19, 256, 50],
  ['IQ4_NL', 20, 32, 18],
  ['IQ3_S', 21, 256, 110],
  ['IQ2_S', 22, 256, 82],
  ['IQ4_XS', 23, 256, 136],
  ['I8', 24, 1, 1],
  ['I16', 25, 1, 2],
  ['I32', 26, 1, 4],
  ['I64', 27, 1, 8],
  ['F64', 28, 1, 8],
  ['IQ1_M', 29, 256, 56],
  ['BF16', 30, 1, 2],
  ['TQ1_0', 34, 256, 54],
  ['TQ2_0', 35, 256, 66],
  ['MXFP4', 39, 32, 17],
  ['NVFP4', 40, 64, 36],
  ['Q1_0', 41, 128, 18],
  ['Q2_0', 42, 64, 18],
].map(([name, id, blockElements, blockBytes]) => ({ name, id, blockElements, blockBytes }) as GgmlTypeInfo);

export const GGML_TYPE_BY_ID: ReadonlyMap<number, GgmlTypeInfo> = new Map(GGML_TYPES.map((t) => [t.id, t]));
export const GGML_TYPE_BY_NAME: ReadonlyMap<string, GgmlTypeInfo> = new Map(GGML_TYPES.map((t) => [t.name, t]));

export function ggmlType(name: string): GgmlTypeInfo {
  const t = GGML_TYPE_BY_NAME.get(name);
  if (!t) throw new Error(`unknown ggml type ${name}`);
  return t;
}

/** general.file_type values (llama_ftype) the converter writes. */
export const LLAMA_FILE_TYPE = { ALL_F32: 0, MOSTLY_F16: 1, MOSTLY_Q4_0: 2, MOSTLY_Q8_0: 7, MOSTLY_Q4_K_S: 14, MOSTLY_BF16: 32, MOSTLY_MXFP4_MOE: 38 } as const;

/** tokenizer.ggml.token_type values. */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** {arch}.expert_gating_func values. */
export const EXPERT_GATING = { SOFTMAX: 1, SIGMOID: 2 } as const;

/** general.quantization_version written by current converters. */
export const GGML_QUANT_VERSION = 2;
