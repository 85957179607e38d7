// Wire format of iotstream's /ws binary messages (one frame each):
//   bytes 0-1   header length H (uint16 BE, counted from byte 0)
//   byte  2     version (1)
//   byte  3     device-id length L
//   bytes 4-11  frame id (uint64 BE)
//   bytes 12-19 capture timestamp, ms since epoch (int64 BE)
//   bytes 20..  device id (UTF-8, L bytes); the JPEG starts at byte H.
const MIN_HEADER = 20;
const decoder = new TextDecoder();

/** Parses one binary message; returns null if it is malformed. */
export function parseFrame(buf) {
  if (!(buf instanceof ArrayBuffer) || buf.byteLength < MIN_HEADER) return null;
  const view = new DataView(buf);
  const headerLen = view.getUint16(0);
  const version = view.getUint8(2);
  const idLen = view.getUint8(3);
  if (version !== 1 || headerLen < MIN_HEADER + idLen || headerLen > buf.byteLength) return null;
  return {
    headerLen,
    frameId: view.getBigUint64(4).toString(),
    timestamp: Number(view.getBigInt64(12)),
    deviceId: decoder.decode(new Uint8Array(buf, MIN_HEADER, idLen)),
    // The Blob keeps its own copy of the JPEG bytes; the message buffer can be dropped.
    jpeg: () => new Blob([new Uint8Array(buf, headerLen)], { type: 'image/jpeg' }),
  };
}
