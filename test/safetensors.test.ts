import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { TensorFiles, readSafetensorsFile, writeSafetensorsFile } from '../src/node/tensor-files.js';
import { SafetensorsError, encodeSafetensorsHeader, type TensorToWrite } from '../src/weights/safetensors.js';
import { FIXTURES } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'owl-st-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A file with this literal header JSON (object or raw string) and `dataLen` data bytes. */
function rawFile(name: string, header: unknown, dataLen: number): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(tmp, name);
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataLen, 7)]));
  return path;
}

function expectError(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${e}`);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should mention "${m}"`);
    return true;
  });
}

test('round trip of several dtypes and shapes, including empty and scalar tensors', () => {
  const tensors: TensorToWrite[] = [
    { name: 'w.f32', dtype: 'F32', shape: [2, 3], data: bytes(new Float32Array([1, -2, 3.5, 0, 1e-8, 6])) },
    { name: 'b.bf16', dtype: 'BF16', shape: [3], data: bytes(new Uint16Array([0x3f80, 0xc000, 0x7fc0])) },
    { name: 'ids', dtype: 'I64', shape: [2], data: bytes(new BigInt64Array([-1n, 1n << 40n])) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Uint8Array(0) },
    { name: 'scalar', dtype: 'F64', shape: [], data: bytes(new Float64Array([Math.PI])) },
    { name: 'q', dtype: 'F8_E4M3', shape: [5], data: new Uint8Array([0, 1, 0x7e, 0x80, 0xff]) },
  ];
  const path = join(tmp, 'round.safetensors');
  writeSafetensorsFile(path, tensors, { format: 'pt', note: 'x' });
  const headerLen = Number(readFileSync(path).readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0);
  const back = readSafetensorsFile(path);
  assert.deepEqual([...back.keys()].sort(), tensors.map((t) => t.name).sort());
  for (const t of tensors) {
    const r = back.get(t.name)!;
    assert.equal(r.dtype, t.dtype);
    assert.deepEqual(r.shape, t.shape);
    assert.deepEqual([...r.data], [...t.data], t.name);
  }
  assert.deepEqual(new Float32Array(back.get('w.f32')!.data.buffer), new Float32Array([1, -2, 3.5, 0, 1e-8, 6]));
  const files = TensorFiles.open(path);
  assert.equal(files.totalBytes, tensors.reduce((a, t) => a + t.data.length, 0));
  // A fresh buffer for a 2-byte dtype can be viewed without copying.
  assert.equal(files.read('b.bf16').byteOffset % 2, 0);
  assert.deepEqual(new Uint16Array(files.read('b.bf16').buffer), new Uint16Array([0x3f80, 0xc000, 0x7fc0]));
  files.close();
});

test('encodeSafetensorsHeader refuses a byte length that does not match the shape', () => {
  expectError(() => encodeSafetensorsHeader([{ name: 'x', dtype: 'F32', shape: [3], byteLength: 8 }]), 'x', '12');
});

test('reads the qwen3-dense fixture and its references', () => {
  const files = TensorFiles.open(join(FIXTURES, 'models', 'qwen3-dense'));
  const emb = files.info('model.embed_tokens.weight');
  assert.equal(emb.dtype, 'F32');
  assert.deepEqual(emb.shape, [1024, 64]);
  assert.equal(emb.byteLength, 1024 * 64 * 4);
  assert.equal(files.tensors.size, 35);
  assert.ok(files.has('model.layers.0.self_attn.q_norm.weight'));
  const norm = new Float32Array(files.read('model.layers.0.input_layernorm.weight').buffer);
  assert.equal(norm.length, 64);
  assert.ok(norm.every(Number.isFinite));
  expectError(() => files.info('lm_head.bias'), 'lm_head.bias', 'qwen3-dense');
  files.close();

  const ref = readSafetensorsFile(join(FIXTURES, 'models', 'qwen3-dense', 'reference.safetensors'));
  assert.deepEqual(ref.get('logits_0')!.shape, [7, 1024]);
  assert.equal(ref.get('logits_0')!.dtype, 'F32');
  assert.deepEqual(ref.get('nll_2')!.shape, []);
  const nll = new Float32Array(ref.get('nll_2')!.data.buffer)[0]!;
  assert.ok(Math.abs(nll - 12.14682) < 1e-4, `nll_2 ${nll}`); // value from the fixture README
  assert.equal(new BigInt64Array(ref.get('input_ids_0')!.data.buffer).length, 7);
});

test('read fills the given destination with positioned reads and reports progress', () => {
  const path = join(tmp, 'dest.safetensors');
  writeSafetensorsFile(path, [
    { name: 'a', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
    { name: 'b', dtype: 'I32', shape: [2], data: bytes(new Int32Array([-5, 9])) },
  ]);
  const files = TensorFiles.open(path);
  const seen: Array<[number, number]> = [];
  files.onProgress = (done, total) => seen.push([done, total]);
  const dest = new Uint8Array(8);
  assert.equal(files.read('b', dest), dest);
  assert.deepEqual(new Int32Array(dest.buffer), new Int32Array([-5, 9]));
  assert.deepEqual([...files.read('a')], [1, 2, 3]); // out of file order: reads are positioned
  assert.deepEqual(seen, [[8, 11], [11, 11]]);
  expectError(() => files.read('a', new Uint8Array(4)), '"a"', 'dest.safetensors');
  files.close();
});

function makeShards(name: string, weightMap: Record<string, string>, shards: Record<string, string[]>): string {
  const dir = mkdtempSync(join(tmp, name));
  for (const [file, names] of Object.entries(shards)) {
    writeSafetensorsFile(join(dir, file), names.map((n, i) => ({ name: n, dtype: 'F32', shape: [2], data: bytes(new Float32Array([i, n.length])) })));
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  return dir;
}

test('sharded folder with model.safetensors.index.json', () => {
  const dir = makeShards(
    'sharded',
    { x: 'model-00001-of-00002.safetensors', y: 'model-00001-of-00002.safetensors', zz: 'model-00002-of-00002.safetensors' },
    { 'model-00001-of-00002.safetensors': ['x', 'y'], 'model-00002-of-00002.safetensors': ['zz'] },
  );
  const files = TensorFiles.open(dir);
  assert.deepEqual([...files.tensors.keys()].sort(), ['x', 'y', 'zz']);
  assert.ok(files.info('zz').file.endsWith('model-00002-of-00002.safetensors'));
  assert.deepEqual(new Float32Array(files.read('zz').buffer), new Float32Array([0, 2]));
  assert.deepEqual(new Float32Array(files.read('y').buffer), new Float32Array([1, 1]));
  assert.equal(files.totalBytes, 24);
  files.close();
});

test('sharded folder errors: missing shard, tensor missing from its shard, tensor in two shards, bad index', () => {
  const missing = makeShards('missing', { x: 'a.safetensors', y: 'gone.safetensors' }, { 'a.safetensors': ['x'] });
  expectError(() => TensorFiles.open(missing), 'model.safetensors.index.json', 'gone.safetensors');
  const notThere = makeShards('notthere', { x: 'a.safetensors', y: 'a.safetensors' }, { 'a.safetensors': ['x'] });
  expectError(() => TensorFiles.open(notThere), 'a.safetensors', '"y"');
  const twice = makeShards('twice', { x: 'a.safetensors' }, { 'a.safetensors': ['x'], 'b.safetensors': ['x'] });
  writeFileSync(join(twice, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'a.safetensors', y: 'b.safetensors' } }));
  expectError(() => TensorFiles.open(twice), '"x"', 'a.safetensors', 'b.safetensors');
  const bad = makeShards('badindex', {}, {});
  writeFileSync(join(bad, 'model.safetensors.index.json'), '{"weight_map": ');
  expectError(() => TensorFiles.open(bad), 'model.safetensors.index.json', 'JSON');
  writeFileSync(join(bad, 'model.safetensors.index.json'), '{"metadata": {}}');
  expectError(() => TensorFiles.open(bad), 'model.safetensors.index.json', 'weight_map');
});

test('malformed files give a SafetensorsError naming the file and tensor', () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const short = join(tmp, 'short.safetensors');
  writeFileSync(short, Buffer.from([1, 0, 0]));
  expectError(() => TensorFiles.open(short), 'short.safetensors', 'too short');

  const past = rawFile('past.safetensors', { t: ok }, 8);
  const buf = readFileSync(past);
  buf.writeBigUInt64LE(BigInt(buf.length));
  writeFileSync(past, buf);
  expectError(() => TensorFiles.open(past), 'past.safetensors', 'past the end');
  buf.writeBigUInt64LE(0xffffffffffffffffn);
  writeFileSync(past, buf);
  expectError(() => TensorFiles.open(past), 'past.safetensors', 'past the end');

  expectError(() => TensorFiles.open(rawFile('json.safetensors', '{"t": {', 8)), 'json.safetensors', 'JSON');
  expectError(() => TensorFiles.open(rawFile('arr.safetensors', '[1, 2]', 0)), 'arr.safetensors', 'not a JSON object');
  const utf = rawFile('utf.safetensors', '{"\xff": 1}', 0);
  const ub = readFileSync(utf);
  ub[10] = 0xff; // a lone continuation byte inside the key
  writeFileSync(utf, ub);
  expectError(() => TensorFiles.open(utf), 'utf.safetensors', 'UTF-8');

  const cases: Array<[string, unknown, number, string[]]> = [
    ['overlap', { a: ok, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12, ['"b"', '"a"', 'overlap']],
    ['dtype', { t: { dtype: 'F4', shape: [2], data_offsets: [0, 1] } }, 8, ['"t"', 'F4', 'BF16']],
    ['length', { t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8, ['"t"', '12', '8']],
    ['outside', { t: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 12, ['"t"', 'outside']],
    ['missing', { t: { dtype: 'F32', shape: [2] } }, 8, ['"t"', 'data_offsets']],
    ['types', { t: { dtype: 4, shape: [2], data_offsets: [0, 8] } }, 8, ['"t"', 'dtype']],
    ['negdim', { t: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, 8, ['"t"', 'shape']],
    ['fracdim', { t: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }, 8, ['"t"', 'shape']],
    ['decreasing', { t: { dtype: 'U8', shape: [0], data_offsets: [8, 0] } }, 8, ['"t"', 'non-decreasing']],
    ['offsets3', { t: { dtype: 'U8', shape: [1], data_offsets: [0, 1, 2] } }, 8, ['"t"', 'data_offsets']],
    ['metadata', { __metadata__: { n: 3 }, t: ok }, 8, ['__metadata__', '"n"']],
  ];
  for (const [name, header, dataLen, mentions] of cases) {
    expectError(() => TensorFiles.open(rawFile(`${name}.safetensors`, header, dataLen)), `${name}.safetensors`, ...mentions);
  }
  // A header that validates: the same helper is not what fails above.
  const fine = TensorFiles.open(rawFile('fine.safetensors', { __metadata__: { format: 'pt' }, a: ok, e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] } }, 8));
  assert.equal(fine.tensors.size, 2);
  fine.close();
});

test('a folder without model.safetensors or an index opens every *.safetensors in it', () => {
  const dir = mkdtempSync(join(tmp, 'loose'));
  writeSafetensorsFile(join(dir, 'part-b.safetensors'), [{ name: 'b', dtype: 'I8', shape: [1], data: new Uint8Array([0xfe]) }]);
  writeSafetensorsFile(join(dir, 'part-a.safetensors'), [{ name: 'a', dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }]);
  const files = TensorFiles.open(dir);
  assert.deepEqual([...files.tensors.keys()], ['a', 'b']);
  assert.deepEqual([...new Int8Array(files.read('b').buffer)], [-2]);
  files.close();
});

test('missing paths and empty folders are clear errors', () => {
  expectError(() => TensorFiles.open(join(tmp, 'nope')), 'nope', 'no such');
  const empty = mkdtempSync(join(tmp, 'empty'));
  expectError(() => TensorFiles.open(empty), 'empty', 'no .safetensors');
});
