/**
 * Opens the HTML report in headless Chromium (Debian's `chromium` package, driven by playwright-core)
 * and checks that the three charts rendered with data, offline. Skipped where Chromium is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FLAGSHIPS, findPreset, presetSpec } from '../src/config/index.js';
import { readConfigFile } from '../src/node/config-file.js';
import { analyzeModel, checkClaims, claimsEntryFor } from '../src/analysis/index.js';
import { chartData, renderHtml, type ComparedModel } from '../src/report/index.js';
import { FIXTURES } from './helpers.js';
import { SKIP, launchChromium, watchPage } from './browser-helpers.js';


function report(): { file: string; models: ComparedModel[] } {
  const specs = [...FLAGSHIPS.map((n) => presetSpec(findPreset(n)!)), readConfigFile(join(FIXTURES, 'models/qwen3-dense'))];
  const models = specs.map((s) => {
    const a = analyzeModel(s);
    return { ...a, claims: checkClaims(s, a, claimsEntryFor(s.source)) };
  });
  const require = createRequire(import.meta.url);
  const chartJs = readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');
  const file = join(mkdtempSync(join(tmpdir(), 'owl-report-')), 'report.html');
  writeFileSync(file, renderHtml(models, { chartJs }));
  return { file, models };
}

interface Rendered {
  id: string;
  type: string;
  datasets: Array<{ label: string; data: unknown[] }>;
  labels: unknown[];
  painted: number;
  pixels: number;
}

test('HTML report: three charts render with data in headless Chromium, offline', { skip: SKIP }, async () => {
  const { file, models } = report();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const { errors, outside: requests } = await watchPage(page, (url) => url.startsWith('file:'));
    await page.goto(pathToFileURL(file).href);
    const charts = (await page.evaluate(() => {
      const C = (window as unknown as { Chart: { instances: Record<string, any> } }).Chart;
      return Object.values(C.instances).map((c) => {
        const canvas = c.canvas as HTMLCanvasElement;
        const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) painted++;
        return {
          id: canvas.id,
          type: c.config.type,
          labels: c.data.labels ?? [],
          datasets: c.data.datasets.map((d: { label: string; data: unknown[] }) => ({ label: d.label, data: d.data })),
          painted,
          pixels: canvas.width * canvas.height,
        };
      });
    })) as Rendered[];
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [], 'the page must not reach the network');
    assert.deepEqual(charts.map((c) => c.id).sort(), ['chart-kv', 'chart-params', 'chart-where']);
    for (const c of charts) assert.ok(c.painted > c.pixels * 0.02, `${c.id}: only ${c.painted} of ${c.pixels} pixels painted`);

    const data = chartData(models);
    const names = models.map((m) => m.name);
    const kv = charts.find((c) => c.id === 'chart-kv')!;
    assert.deepEqual(kv.datasets.map((d) => d.label), names);
    const ds = kv.datasets[names.indexOf('DeepSeek-V3')]!.data as Array<{ x: number; y: number }>;
    assert.deepEqual(ds.find((p) => p.x === 4096), { x: 4096, y: 70272 * 4096 });
    const params = charts.find((c) => c.id === 'chart-params')!;
    assert.deepEqual(params.labels, names);
    assert.deepEqual(params.datasets.map((d) => d.data), [data.params.total, data.params.active]);
    const where = charts.find((c) => c.id === 'chart-where')!;
    assert.deepEqual(where.datasets.map((d) => d.label), data.where.labels);
    // Each model's parts add up to its whole total.
    names.forEach((_, i) => {
      const sum = where.datasets.reduce((a, d) => a + (d.data[i] as number), 0);
      assert.ok(Math.abs(sum - 100) < 1e-9, `${names[i]}: ${sum}%`);
    });
    assert.ok(await page.getByText('Claims checked').isVisible());
  } finally {
    await browser.close();
  }
});
