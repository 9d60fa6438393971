/** Progress display helpers. */

/**
 * Rows a file probably holds, from the rows seen in its first bytes
 * (`ListHeader.sample`). Exact when the sample was the whole file.
 */
export function estimateRows(fileSize: number, peekedBytes: number, peekedRows: number): number {
  const rows = Number.isFinite(peekedRows) ? Math.max(0, Math.floor(peekedRows)) : 0;
  if (!(fileSize > 0) || !(peekedBytes > 0) || rows === 0) return rows;
  if (peekedBytes >= fileSize) return rows;
  return Math.round(rows * (fileSize / peekedBytes));
}
