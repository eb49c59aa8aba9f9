/**
 * A minimal ONNX protobuf writer: just the message types a tiny inference graph needs
 * (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto).
 * Field numbers follow onnx/onnx.proto3. Hand-written rather than a protobuf library because
 * the subset is ~100 lines, needs no schema file, and its output is byte-for-byte deterministic.
 */

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT8: 3, INT32: 6, INT64: 7 } as const;
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

class Writer {
  private chunks: Uint8Array[] = [];
  private len = 0;
  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.len += b.length;
  }
  varint(value: number | bigint): void {
    // int64 fields encode negatives as 10-byte two's complement varints.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }
  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  int(field: number, value: number | bigint): void {
    this.tag(field, 0);
    this.varint(value);
  }
  bytes(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
  }
  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }
  float(field: number, f: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, f, true);
    this.push(b);
  }
  message(field: number, build: (w: Writer) => void): void {
    const inner = new Writer();
    build(inner);
    this.bytes(field, inner.finish());
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** A constant tensor; `data` is stored as raw little-endian bytes. */
export interface Tensor {
  name: string;
  dims: number[];
  type: 'float' | 'int8' | 'int32' | 'int64';
  data: Float32Array | Int8Array | Int32Array | BigInt64Array;
}

export type Attribute =
  | { name: string; int: number }
  | { name: string; float: number }
  | { name: string; ints: number[] }
  | { name: string; floats: number[] }
  | { name: string; tensor: Tensor };

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Attribute[];
}

/** A graph input or output; string dims are symbolic (e.g. 'batch'). */
export interface ValueInfo {
  name: string;
  type: 'float' | 'int32' | 'int64';
  dims: Array<number | string>;
}

export interface Graph {
  name: string;
  nodes: Node[];
  initializers: Tensor[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

const typeCode = { float: DataType.FLOAT, int8: DataType.INT8, int32: DataType.INT32, int64: DataType.INT64 } as const;

function writeTensor(w: Writer, t: Tensor): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, typeCode[t.type]);
  w.string(8, t.name);
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function writeValueInfo(w: Writer, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, typeCode[v.type]);
      tensor.message(2, (shape) => {
        for (const d of v.dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function writeAttribute(w: Writer, a: Attribute): void {
  w.string(1, a.name);
  if ('int' in a) {
    w.int(3, a.int);
    w.int(20, AttrType.INT);
  } else if ('float' in a) {
    w.float(2, a.float);
    w.int(20, AttrType.FLOAT);
  } else if ('ints' in a) {
    for (const i of a.ints) w.int(8, i);
    w.int(20, AttrType.INTS);
  } else if ('floats' in a) {
    for (const f of a.floats) w.float(7, f);
    w.int(20, AttrType.FLOATS);
  } else {
    w.message(5, (t) => writeTensor(t, a.tensor));
    w.int(20, AttrType.TENSOR);
  }
}

/** Serialises a graph as an ONNX model (IR version 8, default opset `opset`). */
export function encodeModel(graph: Graph, opset = 13): Uint8Array {
  const w = new Writer();
  w.int(1, 8); // ir_version
  w.string(2, 'twichist-tiny-onnx');
  w.message(7, (g) => {
    graph.nodes.forEach((n, i) =>
      g.message(1, (nw) => {
        for (const inp of n.inputs) nw.string(1, inp);
        for (const out of n.outputs) nw.string(2, out);
        nw.string(3, `${n.op.toLowerCase()}_${i}`);
        nw.string(4, n.op);
        for (const a of n.attributes ?? []) nw.message(5, (aw) => writeAttribute(aw, a));
      }),
    );
    g.string(2, graph.name);
    for (const t of graph.initializers) g.message(5, (tw) => writeTensor(tw, t));
    for (const v of graph.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of graph.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  });
  w.message(8, (op) => {
    op.string(1, '');
    op.int(2, opset);
  });
  return w.finish();
}
