import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointLayout } from '../src/models/checkpoint-layout.js';
import { readConfigFile } from '../src/node/config-file.js';
import { TensorFiles } from '../src/node/tensor-files.js';
import { FIXTURES } from './helpers.js';

test('the declared checkpoint layout is exactly what transformers saved, for every fixture', () => {
  for (const name of readdirSync(join(FIXTURES, 'models'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)) {
    const dir = join(FIXTURES, 'models', name);
    const spec = readConfigFile(dir);
    const files = TensorFiles.open(dir);
    const stored = new Map([...files.tensors].filter(([n]) => !n.endsWith('_scale_inv')).map(([n, t]) => [n, t.shape]));
    files.close();
    const planned = new Map(checkpointLayout(spec, { mxfp4: spec.quant.kind === 'mxfp4' }).map((p) => [p.name, p.shape]));
    assert.deepEqual([...planned.keys()].sort(), [...stored.keys()].sort(), name);
    for (const [n, shape] of planned) assert.deepEqual(shape, stored.get(n), `${name}: ${n}`);
  }
});
