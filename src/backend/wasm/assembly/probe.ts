// Memory-read bandwidth probe (bench/kernels.ts): streams 64-byte lines [s, e) of a buffer through
// SIMD loads, the way the matvec kernels read weights, and leaves a checksum so nothing is skipped.

export function probe_read(tid: i32, s: i32, e: i32, base: usize, sink: usize): void {
  let a = i32x4.splat(0), b = i32x4.splat(0), c = i32x4.splat(0), d = i32x4.splat(0);
  const end = base + (<usize>e << 6);
  for (let p = base + (<usize>s << 6); p < end; p += 64) {
    a = i32x4.add(a, v128.load(p));
    b = i32x4.add(b, v128.load(p, 16));
    c = i32x4.add(c, v128.load(p, 32));
    d = i32x4.add(d, v128.load(p, 48));
  }
  v128.store(sink + (<usize>tid << 4), i32x4.add(i32x4.add(a, b), i32x4.add(c, d)));
}
