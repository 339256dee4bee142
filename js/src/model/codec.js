// The ndarray codec: {dtype, shape, data} <-> typed array.
// Live, `data` is a DataView from the widget's binary buffers; in a static export or a
// test vector it is {b64: "..."}. Python's side is spikewidget/payload.py (encode_array).

const TYPES = {
  bool: Uint8Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** Bytes of a base64 string (browser atob, or node's Buffer). */
export function base64ToBytes(b64) {
  if (typeof atob === "function") {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  return new Uint8Array(Buffer.from(b64, "base64"));
}

function bytesOf(data) {
  if (data instanceof DataView || ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data && typeof data.b64 === "string") return base64ToBytes(data.b64);
  throw new TypeError("array data must be a DataView, ArrayBuffer, typed array or {b64}");
}

/** A typed array for an encoded ndarray (copied when the bytes are misaligned). */
export function decodeArray(enc) {
  if (enc === null || enc === undefined) return null;
  const Type = TYPES[enc.dtype];
  if (!Type) throw new TypeError(`unknown dtype ${enc.dtype}`);
  const bytes = bytesOf(enc.data);
  const size = Type.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${enc.dtype}`);
  }
  if (bytes.byteOffset % size === 0) {
    return new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  }
  return new Type(bytes.slice().buffer);
}

/** Encode a typed array (for messages back to Python and for tests). */
export function encodeArray(arr, shape = [arr.length]) {
  const dtype = Object.keys(TYPES).find((k) => k !== "bool" && arr instanceof TYPES[k]);
  if (!dtype) throw new TypeError("not a supported typed array");
  return { dtype, shape, data: new DataView(arr.buffer, arr.byteOffset, arr.byteLength) };
}
