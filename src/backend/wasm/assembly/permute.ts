// Activation layouts matching the in-register weight decoders: each kernel's decoder yields
// lanes in a fixed non-natural order, so x is permuted once per call instead of per row.
// Columns past the last whole group stay in natural order (the kernels' scalar tails read them).

/**
 * bf16/f16/fp8: per 8 columns, the even elements then the odd ones. `group` columns per SIMD step
 * of the kernel (8, or 16 for fp8): only whole steps are permuted.
 */
export function permute_pairs(x: usize, xp: usize, cols: i32, group: i32): void {
  const g = <usize>(cols & -group);
  for (let c: usize = 0; c < g; c += 8) {
    const a = v128.load(x + (c << 2));
    const b = v128.load(x + (c << 2), 16);
    v128.store(xp + (c << 2), i32x4.shuffle(a, b, 0, 2, 4, 6));
    v128.store(xp + (c << 2), i32x4.shuffle(a, b, 1, 3, 5, 7), 16);
  }
  for (let c = g; c < <usize>cols; c++) store<f32>(xp + (c << 2), load<f32>(x + (c << 2)));
}

/** mxfp4: per 32 columns, eight groups of stride-4 elements starting at 0, 2, 16, 18, 1, 3, 17, 19. */
export function permute_mxfp4(x: usize, xp: usize, cols: i32): void {
  const g = <usize>(cols & ~31);
  for (let c: usize = 0; c < g; c += 32) {
    for (let q: usize = 0; q < 8; q++) {
      const base = (q & 1) * 2 + ((q >> 1) & 1) * 16 + (q >> 2);
      for (let l: usize = 0; l < 4; l++) store<f32>(xp + ((c + 4 * q + l) << 2), load<f32>(x + ((c + base + 4 * l) << 2)));
    }
  }
  for (let c = g; c < <usize>cols; c++) store<f32>(xp + (c << 2), load<f32>(x + (c << 2)));
}
