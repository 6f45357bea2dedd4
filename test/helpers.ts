/** Shared test paths. Tests run from dist/test (compiled) or test/ (tsx); fixtures live in test/fixtures. */
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve, basename } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root, whether running from test/ or dist/test/. */
export const ROOT = basename(dirname(here)) === 'dist' ? resolve(here, '../..') : resolve(here, '..');
export const FIXTURES = join(ROOT, 'test', 'fixtures');
/** The built CLI entry point (npm test builds before running). */
export const OWL_BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
