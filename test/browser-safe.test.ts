/**
 * The core library (src/ outside node/, cli/, server/) must load in a browser: no static import of a
 * Node builtin or of the Node-only folders, and no bare package a user's install would not have.
 * Dynamic import() is allowed: platform.ts reaches Node's adapter that way behind a runtime check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { ROOT } from './helpers.js';

const SRC = join(ROOT, 'src');
const NODE_ONLY = ['node', 'cli', 'server'].map((d) => join(SRC, d));
const BUILTINS = new Set(builtinModules);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
const RUNTIME_DEPS = new Set(Object.keys(pkg.dependencies ?? {}));

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir + sep);

/** Every static module specifier of a file: import/export ... from, side-effect imports, import x = require(). */
function staticSpecifiers(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: string[] = [];
  for (const s of sf.statements) {
    if ((ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier)) {
      out.push(s.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(s) && ts.isExternalModuleReference(s.moduleReference) && ts.isStringLiteral(s.moduleReference.expression)) {
      out.push(s.moduleReference.expression.text);
    }
  }
  return out;
}

/** Why this specifier would break the file in a browser, or null when it is fine. */
function problem(file: string, spec: string): string | null {
  if (spec.startsWith('node:')) return 'Node builtin';
  if (spec.startsWith('.') || spec.startsWith('/')) {
    const target = resolve(dirname(file), spec);
    const dir = NODE_ONLY.find((d) => inside(target, d));
    return dir ? `reaches Node-only ${relative(ROOT, dir)}/ (use a guarded dynamic import())` : null;
  }
  const pkgName = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
  if (BUILTINS.has(spec) || BUILTINS.has(pkgName)) return 'Node builtin';
  if (!RUNTIME_DEPS.has(pkgName)) return `package "${pkgName}" is not in package.json dependencies`;
  return null;
}

export function offendingImports(file: string, text: string): string[] {
  return staticSpecifiers(file, text).flatMap((spec) => {
    const why = problem(file, spec);
    return why ? [`${relative(ROOT, file)}: '${spec}': ${why}`] : [];
  });
}

function coreFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return NODE_ONLY.includes(path) ? [] : coreFiles(path);
    return e.isFile() && e.name.endsWith('.ts') ? [path] : [];
  });
}

test('browser-safe checker: catches builtins and Node-only folders, allows dynamic imports', () => {
  const f = join(SRC, 'backend', 'wasm', 'x.ts');
  const bad = [
    "import { readFileSync } from 'node:fs';",
    "import * as path from 'path';",
    "export { x } from 'fs/promises';",
    "import '../../node/wasm-platform.js';",
    "import type { LoadProgress } from '../../node/tensor-files.js';",
    "import os = require('os');",
    "import { chromium } from 'playwright-core';",
  ];
  assert.equal(offendingImports(f, bad.join('\n')).length, bad.length, offendingImports(f, bad.join('\n')).join('\n'));
  const good = [
    "import { OwlError } from '../../errors.js';",
    "import { Template } from '@huggingface/jinja';",
    "const m = await import('../../node/wasm-platform.js');",
    "// import { readFileSync } from 'node:fs';",
    "const s = \"import x from 'node:fs'\";",
  ];
  assert.deepEqual(offendingImports(f, good.join('\n')), []);
});

test('core library (src/ outside node/, cli/, server/) has no Node-only static imports', () => {
  const files = coreFiles(SRC);
  assert.ok(files.length > 50, `only ${files.length} core files found under ${SRC}`);
  assert.ok(files.includes(join(SRC, 'backend', 'wasm', 'platform.ts')));
  const offending = files.flatMap((f) => offendingImports(f, readFileSync(f, 'utf8')));
  assert.deepEqual(offending, [], `browser-unsafe imports:\n${offending.join('\n')}`);
});
