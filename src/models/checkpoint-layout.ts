/**
 * The tensors a Hugging Face checkpoint stores, one entry per tensor with its role: the spec's
 * tensor list (config/checkpoint-tensors.ts) expanded per expert, plus GPT-OSS's MXFP4 packing.
 * `owl init` writes random weights from it; a test checks it against every fixture checkpoint.
 */
import { modelTensors, type TensorGroup } from '../config/checkpoint-tensors.js';
import type { ModelSpec } from '../config/spec.js';

/** What a tensor is, which decides its dtype and how `owl init` fills it. */
export type TensorRole =
  | 'matrix' // a linear weight or embedding: random, model dtype
  | 'norm' // RMSNorm gain: ones
  | 'bias' // zeros, model dtype
  | 'sinks' // GPT-OSS attention sinks: zeros
  | 'score_bias' // DeepSeek e_score_correction_bias: zeros, always f32
  | 'mxfp4_blocks' // GPT-OSS packed E2M1 pairs (u8)
  | 'mxfp4_scales'; // GPT-OSS E8M0 scales (u8)

export interface TensorPlan {
  name: string;
  shape: number[];
  role: TensorRole;
}

export interface LayoutOptions {
  /** GPT-OSS: stacked expert matrices as *_blocks/*_scales (the published checkpoints). */
  mxfp4: boolean;
}

function roleOf(t: TensorGroup): TensorRole {
  if (t.shape.length >= 2) return 'matrix';
  if (t.float32) return 'score_bias';
  if (t.name.endsWith('sinks')) return 'sinks';
  return t.name.endsWith('norm.weight') ? 'norm' : 'bias';
}

/** The main model's tensors (DeepSeek's MTP layers are left out: Owl skips them when loading). */
export function checkpointLayout(spec: ModelSpec, opts: LayoutOptions): TensorPlan[] {
  const out: TensorPlan[] = [];
  for (const t of modelTensors(spec)) {
    if (t.owner !== 'main') continue;
    if (t.name.includes('{e}')) {
      for (let e = 0; e < t.copies; e++) out.push({ name: t.name.replace('{e}', String(e)), shape: t.shape, role: roleOf(t) });
    } else if (t.copies > 1 && t.matrix && opts.mxfp4) {
      // MXFP4 stores [E, out, in/32, 16] nibble pairs plus one E8M0 scale per 32 inputs.
      const base = t.name.replace(/\.weight$/, '');
      const { out: rows, in: cols } = t.matrix;
      out.push({ name: `${base}_blocks`, shape: [t.copies, rows, cols / 32, 16], role: 'mxfp4_blocks' });
      out.push({ name: `${base}_scales`, shape: [t.copies, rows, cols / 32], role: 'mxfp4_scales' });
    } else {
      const shape = t.copies > 1 ? [t.copies, ...t.shape] : t.shape;
      out.push({ name: t.name, shape, role: t.copies > 1 && t.shape.length === 1 ? 'bias' : roleOf({ ...t, shape }) });
    }
  }
  return out;
}
