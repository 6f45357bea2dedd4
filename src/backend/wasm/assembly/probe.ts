// Memory-read bandwidth probe (bench/kernels.ts): streams 64-byte lines [s, e) of a buffer through
// SIMD loads as eight concurrent sequential streams, 16 bytes from each in turn (the access pattern
// of the matvec kernels), and leaves a checksum so nothing is skipped.

export function probe_read(tid: i32, s: i32, e: i32, base: usize, sink: usize): void {
  const span = <usize>((e - s) >> 3) << 6;
  const p0 = base + (<usize>s << 6);
  const p1 = p0 + span, p2 = p1 + span, p3 = p2 + span, p4 = p3 + span, p5 = p4 + span, p6 = p5 + span, p7 = p6 + span;
  let a = i32x4.splat(0), b = i32x4.splat(0), c = i32x4.splat(0), d = i32x4.splat(0);
  for (let o: usize = 0; o < span; o += 16) {
    a = i32x4.add(a, i32x4.add(v128.load(p0 + o), v128.load(p1 + o)));
    b = i32x4.add(b, i32x4.add(v128.load(p2 + o), v128.load(p3 + o)));
    c = i32x4.add(c, i32x4.add(v128.load(p4 + o), v128.load(p5 + o)));
    d = i32x4.add(d, i32x4.add(v128.load(p6 + o), v128.load(p7 + o)));
  }
  for (let p = p0 + 8 * span; p < base + (<usize>e << 6); p += 16) a = i32x4.add(a, v128.load(p));
  v128.store(sink + (<usize>tid << 4), i32x4.add(i32x4.add(a, b), i32x4.add(c, d)));
}
