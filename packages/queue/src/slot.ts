import type { Cluster, Redis } from 'ioredis';

// CRC16/XMODEM, the checksum Redis Cluster maps keys to slots with.
const table = new Uint16Array(256);
for (let i = 0; i < 256; i += 1) {
  let crc = i << 8;
  for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  table[i] = crc;
}

/** The Redis Cluster slot (0–16383) of a key: CRC16 of its hash tag, or of the whole key when it has none. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ byte) & 0xff]!;
  return crc % 16384;
}

/**
 * The connection of a cluster client to the master that holds `key`'s slot, as the client knows it
 * now (`undefined` before its slots are loaded). Keyless commands about a key's writes (`WAIT`) go there.
 */
export function masterFor(cluster: Cluster, key: string): Redis | undefined {
  const nodeKey = cluster.slots[keySlot(key)]?.[0];
  if (nodeKey === undefined) return undefined;
  return cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === nodeKey);
}
