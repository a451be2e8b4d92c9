/**
 * The protobuf wire format, field by field, with no schema: enough to read and rewrite a few fields of an ONNX file
 * (onnx.proto is protobuf) and write everything else back byte for byte. https://protobuf.dev/programming-guides/encoding/
 */

/** One field as it is on the wire: varints keep their value, every other kind its payload bytes. */
export type WireField =
  | { field: number; wire: 0; value: bigint }
  | { field: number; wire: 1 | 5; bytes: Uint8Array }
  | { field: number; wire: 2; bytes: Uint8Array };

function readVarint(buf: Uint8Array, start: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let pos = start; pos < buf.length && shift < 70n; pos++, shift += 7n) {
    const byte = buf[pos]!;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: pos + 1 };
  }
  throw new Error(`protobuf: a varint at byte ${start} runs past its end`);
}

function writeVarint(value: bigint, out: number[]): void {
  // Negative int32/int64 values are written as their 64-bit two's complement (ten bytes), as protobuf does.
  let v = value < 0n ? value + (1n << 64n) : value;
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
}

/** The fields of one message, in file order (repeated fields appear once per value). */
export function readFields(buf: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const key = readVarint(buf, pos);
    pos = key.next;
    const field = Number(key.value >> 3n);
    const wire = Number(key.value & 7n);
    if (wire === 0) {
      const { value, next } = readVarint(buf, pos);
      fields.push({ field, wire, value });
      pos = next;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (pos + size > buf.length) throw new Error(`protobuf: field ${field} runs past the end of its message`);
      fields.push({ field, wire, bytes: buf.subarray(pos, pos + size) });
      pos += size;
    } else if (wire === 2) {
      const length = readVarint(buf, pos);
      const end = length.next + Number(length.value);
      if (end > buf.length) throw new Error(`protobuf: field ${field} runs past the end of its message`);
      fields.push({ field, wire, bytes: buf.subarray(length.next, end) });
      pos = end;
    } else {
      throw new Error(`protobuf: wire type ${wire} (field ${field}) is not supported`);
    }
  }
  return fields;
}

/** The message bytes of `fields`, in their order. */
export function writeFields(fields: readonly WireField[]): Uint8Array {
  const head: number[] = [];
  const parts: Uint8Array[] = [];
  const flush = () => {
    if (head.length) parts.push(Uint8Array.from(head.splice(0)));
  };
  for (const f of fields) {
    writeVarint((BigInt(f.field) << 3n) | BigInt(f.wire), head);
    if (f.wire === 0) writeVarint(f.value, head);
    else {
      if (f.wire === 2) writeVarint(BigInt(f.bytes.length), head);
      flush();
      parts.push(f.bytes);
    }
  }
  flush();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The values of a repeated integer field, packed (one length-delimited field) or not (one varint each). */
export function readRepeatedVarints(fields: readonly WireField[], field: number): bigint[] {
  const values: bigint[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wire === 0) values.push(f.value);
    else if (f.wire === 2) {
      for (let pos = 0; pos < f.bytes.length;) {
        const { value, next } = readVarint(f.bytes, pos);
        values.push(value);
        pos = next;
      }
    }
  }
  return values;
}

/** A repeated integer field as one packed field. */
export function packedVarints(field: number, values: readonly bigint[]): WireField {
  const bytes: number[] = [];
  for (const v of values) writeVarint(v, bytes);
  return { field, wire: 2, bytes: Uint8Array.from(bytes) };
}

/** Signed 32-bit value of a varint that carries an int32 (negative ones are sign-extended to 64 bits). */
export const int32Of = (value: bigint): number => Number(BigInt.asIntN(32, value));

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** A string field's text; '' for a missing field, as protobuf reads an absent string. */
export const stringOf = (f: WireField | undefined): string => (f?.wire === 2 ? utf8.decode(f.bytes) : '');
