/** Node adapter: safetensors files on disk, read tensor by tensor with positioned reads. */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  SafetensorsError,
  encodeSafetensorsHeader,
  headerByteLength,
  parseSafetensorsHeader,
  type TensorInfo,
  type TensorToWrite,
} from '../weights/safetensors.js';
import type { FileDtype } from '../tensor/dtype.js';

export interface LoadProgress {
  (bytesRead: number, bytesTotal: number): void;
}

/** Reads go in chunks so progress moves during huge tensors (and stay under readSync's 2 GiB limit). */
const CHUNK = 64 << 20;

/** Fill dest from fd at `position`; a short file (changed since its header was read) is an error. */
function readFully(fd: number, dest: Uint8Array, position: number, file: string, tensor?: string, onChunk?: (n: number) => void): void {
  for (let done = 0; done < dest.length; ) {
    const n = readSync(fd, dest, done, Math.min(CHUNK, dest.length - done), position + done);
    if (n === 0) throw new SafetensorsError('file ended early (truncated since it was opened?)', tensor === undefined ? { file } : { file, tensor });
    done += n;
    onChunk?.(n);
  }
}

function readHeader(fd: number, file: string): TensorInfo[] {
  const size = fstatSync(fd).size;
  const prefix = new Uint8Array(Math.min(8, size));
  if (prefix.length) readFully(fd, prefix, 0, file);
  const n = headerByteLength(prefix, size, file);
  const json = new Uint8Array(n);
  readFully(fd, json, 8, file);
  return parseSafetensorsHeader(json, size, file).tensors;
}

export class TensorFiles {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly totalBytes: number;
  onProgress?: LoadProgress;
  private bytesRead = 0;

  private constructor(
    /** The folder or file it was opened from (named in errors). */
    readonly source: string,
    private readonly fds: Map<string, number>,
    tensors: Map<string, TensorInfo>,
  ) {
    this.tensors = tensors;
    this.totalBytes = [...tensors.values()].reduce((a, t) => a + t.byteLength, 0);
  }

  /** A model folder: model.safetensors, or model.safetensors.index.json + its shards, or (fallback) every *.safetensors in it. Also accepts a single .safetensors file path. */
  static open(pathOrDir: string): TensorFiles {
    const source = resolve(pathOrDir);
    if (!existsSync(source)) throw new SafetensorsError('no such file or folder', { file: pathOrDir });
    const fds = new Map<string, number>();
    try {
      const tensors = new Map<string, TensorInfo>();
      const add = (file: string): TensorInfo[] => {
        if (!existsSync(file)) throw new SafetensorsError('shard file is missing', { file });
        const fd = openSync(file, 'r');
        fds.set(file, fd);
        const list = readHeader(fd, file);
        for (const t of list) {
          const other = tensors.get(t.name);
          if (other) throw new SafetensorsError(`also found in ${other.file}`, { file, tensor: t.name });
          tensors.set(t.name, t);
        }
        return list;
      };
      if (!statSync(source).isDirectory()) add(source);
      else if (existsSync(join(source, 'model.safetensors.index.json'))) openIndex(source, join(source, 'model.safetensors.index.json'), add);
      else if (existsSync(join(source, 'model.safetensors'))) add(join(source, 'model.safetensors'));
      else {
        const files = readdirSync(source).filter((f) => f.endsWith('.safetensors')).sort();
        if (files.length === 0) throw new SafetensorsError('folder holds no .safetensors file', { file: source });
        for (const f of files) add(join(source, f));
      }
      return new TensorFiles(source, fds, tensors);
    } catch (e) {
      for (const fd of fds.values()) closeSync(fd);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError('not found in the checkpoint', { file: this.source, tensor: name });
    return t;
  }

  /** Read one tensor's bytes into dest (length must equal byteLength) or a new, element-aligned Uint8Array. */
  read(name: string, dest?: Uint8Array): Uint8Array {
    const t = this.info(name);
    if (dest && dest.length !== t.byteLength) {
      throw new SafetensorsError(`destination holds ${dest.length} bytes, tensor has ${t.byteLength}`, { file: t.file, tensor: name });
    }
    const out = dest ?? new Uint8Array(t.byteLength);
    const fd = this.fds.get(t.file);
    if (fd === undefined) throw new SafetensorsError('read after close()', { file: t.file, tensor: name });
    readFully(fd, out, t.byteOffset, t.file, name, (n) => {
      this.bytesRead += n;
      this.onProgress?.(this.bytesRead, this.totalBytes);
    });
    return out;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/** model.safetensors.index.json: open every shard of its weight_map and check each tensor is where it says. */
function openIndex(dir: string, indexFile: string, add: (file: string) => TensorInfo[]): void {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new SafetensorsError(`not valid JSON: ${(e as Error).message}`, { file: indexFile });
  }
  const map = (raw as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new SafetensorsError('needs a "weight_map" object of tensor name to shard file', { file: indexFile });
  }
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string') throw new SafetensorsError('weight_map value is not a file name', { file: indexFile, tensor });
    byShard.set(shard, [...(byShard.get(shard) ?? []), tensor]);
  }
  for (const shard of byShard.keys()) {
    if (!existsSync(join(dir, shard))) throw new SafetensorsError(`shard "${shard}" named in the index is missing`, { file: indexFile });
  }
  for (const [shard, names] of byShard) {
    const file = join(dir, shard);
    const found = new Set(add(file).map((t) => t.name));
    for (const name of names) {
      if (!found.has(name)) throw new SafetensorsError(`listed in ${indexFile} but not in this shard`, { file, tensor: name });
    }
  }
}

/** Write a safetensors file, tensor by tensor (never one concatenated buffer); atomic via a temporary file. */
export function writeSafetensorsFile(path: string, tensors: Iterable<TensorToWrite> | TensorToWrite[], metadata?: Record<string, string>): void {
  const list = [...tensors];
  writeSafetensorsLazy(path, list.map((t) => ({ ...t, byteLength: t.data.byteLength, produce: () => t.data })), metadata);
}

/** A tensor whose bytes are made only when it is written (so a 13 GB file never sits in memory). */
export interface LazyTensor extends Omit<TensorToWrite, 'data'> {
  byteLength: number;
  produce(): Uint8Array;
}

/** Write a safetensors file producing one tensor at a time; progress after each. */
export function writeSafetensorsLazy(
  path: string,
  list: LazyTensor[],
  metadata?: Record<string, string>,
  onProgress?: LoadProgress,
): void {
  const header = encodeSafetensorsHeader(list, metadata);
  const total = list.reduce((a, t) => a + t.byteLength, 0);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const writeAll = (b: Uint8Array) => {
      for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, Math.min(CHUNK, b.length - done));
    };
    writeAll(header);
    let written = 0;
    for (const t of list) {
      const data = t.produce();
      if (data.byteLength !== t.byteLength)
        throw new SafetensorsError(`produced ${data.byteLength} bytes, expected ${t.byteLength}`, { file: path, tensor: t.name });
      writeAll(data);
      written += data.byteLength;
      onProgress?.(written, total);
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function readSafetensorsFile(path: string): Map<string, { dtype: FileDtype; shape: number[]; data: Uint8Array }> {
  const files = TensorFiles.open(path);
  try {
    const out = new Map<string, { dtype: FileDtype; shape: number[]; data: Uint8Array }>();
    for (const t of files.tensors.values()) out.set(t.name, { dtype: t.dtype, shape: t.shape, data: files.read(t.name) });
    return out;
  } finally {
    files.close();
  }
}
