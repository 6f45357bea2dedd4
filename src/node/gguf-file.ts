/** Node adapter: GGUF files on disk, read with positioned reads (never whole) and written tensor by tensor. */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ModelSpec } from '../config/spec.js';
import type { GgmlTypeInfo } from '../gguf/constants.js';
import { planGguf, type OutType } from '../gguf/convert.js';
import { archOf } from '../gguf/metadata.js';
import { GgufTensorSource, ggufSpec } from '../gguf/model.js';
import { GgufError, parseGguf, type GgufHeader, type GgufKv, type RandomAccess } from '../gguf/reader.js';
import { syntheticTokenizer, tokenizerFromGguf, tokenizerToGguf } from '../gguf/tokenizer.js';
import { encodeGgufHeader, tensorByteLength } from '../gguf/writer.js';
import { readConfigFile } from './config-file.js';
import { TensorFiles } from './tensor-files.js';

const CHUNK = 64 << 20;

function fdAccess(fd: number, size: number, file: string): RandomAccess {
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      for (let done = 0; done < length; ) {
        const n = readSync(fd, out, done, Math.min(CHUNK, length - done), offset + done);
        if (n === 0) throw new GgufError(`${file}: file ended early (truncated since it was opened?)`);
        done += n;
      }
      return out;
    },
  };
}

export class GgufFile {
  private constructor(
    readonly path: string,
    private fd: number | null,
    readonly header: GgufHeader,
    readonly spec: ModelSpec,
    readonly source: GgufTensorSource,
  ) {}

  static isGgufPath(path: string): boolean {
    return path.toLowerCase().endsWith('.gguf') && existsSync(path) && statSync(path).isFile();
  }

  /** Open and validate a .gguf file; its spec comes from the metadata, its tensors are read on demand. */
  static open(path: string): GgufFile {
    const abs = resolve(path);
    if (!existsSync(abs)) throw new GgufError(`${path}: no such file`);
    const fd = openSync(abs, 'r');
    try {
      const access = fdAccess(fd, fstatSync(fd).size, path);
      const header = parseGguf(access, path);
      const spec = ggufSpec(header, basename(path).replace(/\.gguf$/i, ''));
      return new GgufFile(abs, fd, header, spec, new GgufTensorSource(header, access));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** tokenizer.json / tokenizer_config.json equivalents from the metadata (src/tokenizer's loadTokenizer takes them). */
  tokenizerFiles() {
    return { ...tokenizerFromGguf(this.header), source: this.path };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** A tensor whose bytes are made only when it is written. */
export interface LazyGgufTensor {
  name: string;
  /** ggml order (ne[0] innermost). */
  ne: number[];
  type: GgmlTypeInfo;
  produce(): Uint8Array;
}

/** Write a GGUF v3 file one tensor at a time (atomic: a temporary file renamed at the end). */
export function writeGgufFile(path: string, kvs: GgufKv[], tensors: LazyGgufTensor[], onProgress?: (done: number, total: number) => void): void {
  const { header, layout, alignment } = encodeGgufHeader(kvs, tensors);
  const total = layout.reduce((a, l) => a + l.byteLength, 0);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    let pos = 0;
    const writeAll = (b: Uint8Array) => {
      for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, Math.min(CHUNK, b.length - done));
      pos += b.length;
    };
    writeAll(header);
    const dataStart = pos;
    let written = 0;
    tensors.forEach((t, i) => {
      const data = t.produce();
      const expected = tensorByteLength(t.ne, t.type);
      if (data.length !== expected) throw new GgufError(`${path}: tensor "${t.name}": produced ${data.length} bytes, expected ${expected}`);
      const pad = dataStart + layout[i]!.offset - pos;
      if (pad > 0) writeAll(new Uint8Array(pad));
      writeAll(data);
      written += data.length;
      onProgress?.(written, total);
    });
    const tail = (alignment - (pos % alignment)) % alignment;
    if (tail > 0) writeAll(new Uint8Array(tail));
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
}

export interface ConvertOptions {
  type: OutType;
  /** Folder with tokenizer.json (+ tokenizer_config.json, chat_template.jinja); default: the model folder. */
  tokenizerDir?: string;
  onProgress?: (done: number, total: number) => void;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new GgufError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
}

/** Tokenizer keys from a folder's tokenizer files, or a synthetic vocabulary when it has none. */
function tokenizerKvs(dir: string, spec: ModelSpec): { kvs: GgufKv[]; synthetic: boolean } {
  if (existsSync(join(dir, 'tokenizer.json'))) {
    const config = existsSync(join(dir, 'tokenizer_config.json')) ? readJson(join(dir, 'tokenizer_config.json')) : {};
    const jinja = join(dir, 'chat_template.jinja');
    const template = existsSync(jinja) ? readFileSync(jinja, 'utf8') : undefined;
    return { kvs: tokenizerToGguf(readJson(join(dir, 'tokenizer.json')), config, spec.vocabSize, template, dir), synthetic: false };
  }
  const s = syntheticTokenizer(spec.vocabSize, archOf(spec), { bos: spec.bosTokenId, eos: spec.eosTokenIds[0] ?? null });
  return { kvs: tokenizerToGguf(s.tokenizerJson, s.tokenizerConfig, spec.vocabSize, undefined, `${dir} (synthetic vocabulary)`), synthetic: true };
}

/** Convert a Hugging Face model folder to a GGUF file (what `owl convert` does). */
export function convertToGguf(dir: string, out: string, opts: ConvertOptions) {
  const spec = readConfigFile(dir);
  const tok = tokenizerKvs(opts.tokenizerDir ?? dir, spec);
  const files = TensorFiles.open(dir);
  try {
    const plan = planGguf(spec, files, opts.type, tok.kvs, dir);
    writeGgufFile(out, plan.kvs, plan.tensors, opts.onProgress);
    return { spec, arch: archOf(spec), tensors: plan.tensors.length, unused: plan.unused, syntheticVocab: tok.synthetic };
  } finally {
    files.close();
  }
}
