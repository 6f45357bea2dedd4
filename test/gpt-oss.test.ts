import { test } from 'node:test';
import { checkAgainstReference, loadFixture, readReference } from './oracle.js';

// Tolerances from test/fixtures/models/README.md ("recommended logits atol").
const CASES: Array<[string, number]> = [
  ['gpt-oss', 5e-4],
  ['gpt-oss-mxfp4', 5e-4],
];

for (const [name, atol] of CASES) {
  test(`${name} matches the Hugging Face reference`, () => {
    const measured = checkAgainstReference(loadFixture(name), readReference(name), atol);
    console.log(`# ${name}: ${JSON.stringify(measured)}`);
  });
}
