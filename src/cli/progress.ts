/** A one-line progress bar on stderr (only when stderr is a terminal; silent in pipes and tests). */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr) {
  const tty = stream.isTTY === true;
  let last = -1;
  return {
    update(done: number, total: number): void {
      if (!tty || total <= 0) return;
      const pct = Math.floor((done / total) * 100);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${(done / 1e9).toFixed(2)}/${(total / 1e9).toFixed(2)} GB`);
    },
    done(): void {
      if (tty && last >= 0) stream.write('\n');
    },
  };
}
