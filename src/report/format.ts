/** Number formatting shared by every report format: parameters in B, bytes in decimal units (KB = 1000 B). */

const group = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** 116829156672 -> "116.83B"; below 1B in M, below 1M the integer. */
export function params(n: number): string {
  if (n === 0) return '0';
  if (Math.abs(n) >= 1e9) return `${group(n / 1e9, 2)}B`;
  if (Math.abs(n) >= 1e6) return `${group(n / 1e6, 2)}M`;
  return group(n);
}

/** 70272 -> "70.27 KB". */
export function bytes(n: number): string {
  const units: Array<[number, string]> = [
    [1e12, 'TB'],
    [1e9, 'GB'],
    [1e6, 'MB'],
    [1e3, 'KB'],
  ];
  for (const [scale, unit] of units) if (Math.abs(n) >= scale) return `${group(n / scale, 2)} ${unit}`;
  return `${n} B`;
}

export function gib(n: number): string {
  return `${group(n / 2 ** 30, 2)} GiB`;
}

export function flops(n: number): string {
  if (n >= 1e12) return `${group(n / 1e12, 2)} TFLOP`;
  return `${group(n / 1e9, 2)} GFLOP`;
}

export function integer(n: number): string {
  return group(n);
}

/** 131072 -> "128K" when a multiple of 1024, else grouped digits. */
export function tokens(n: number): string {
  return n % 1024 === 0 && n >= 1024 ? `${n / 1024}K` : group(n);
}

export function ratio(x: number, digits = 1): string {
  return group(x, digits);
}

export function percent(x: number, digits = 1): string {
  return `${x > 0 ? '+' : ''}${group(x, digits)}%`;
}
