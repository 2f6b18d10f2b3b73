//! A minimal ONNX writer: just enough protobuf to emit a BERT encoder graph, with fp32, int8 or
//! 4-bit weights (the 4-bit ones through ONNX Runtime's `com.microsoft` operators).
//! ONNX files are protobuf `ModelProto` messages; the field numbers used here are those of
//! onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto).

use super::e5file::{E5File, Header};
use crate::config::Precision;

/// Protobuf encoding helpers.
#[derive(Default)]
pub struct Pb {
    pub buf: Vec<u8>,
}

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(((field as u64) << 3) | wire as u64);
    }
    /// A varint field (int32/int64/enum).
    pub fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }
    /// A 32-bit float field.
    pub fn float(&mut self, field: u32, v: f32) {
        self.key(field, 5);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A length-delimited field (string, bytes, embedded message).
    pub fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }
    pub fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
    pub fn msg(&mut self, field: u32, m: Pb) {
        self.bytes(field, &m.buf);
    }
}

const FLOAT: i64 = 1;
const UINT8: i64 = 2;
const INT8: i64 = 3;
const INT64: i64 = 7;
/// The domain of ONNX Runtime's own operators.
const MS: &str = "com.microsoft";

/// A tensor initializer.
fn tensor(name: &str, dims: &[usize], data_type: i64, raw: &[u8]) -> Pb {
    let mut t = Pb::default();
    for &d in dims {
        t.int(1, d as i64);
    }
    t.int(2, data_type);
    t.string(8, name);
    t.bytes(9, raw);
    t
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 4);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn i64_bytes(v: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * 8);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// An attribute value.
pub enum Attr {
    Int(i64),
    Float(f32),
    Ints(Vec<i64>),
}

/// Builds a graph node by node.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<Pb>,
    inits: Vec<Pb>,
    counter: usize,
    uses_ms: bool,
}

impl Graph {
    /// Adds a node with one output, named after `hint`; returns the output name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], hint: &str) -> String {
        let out = format!("{hint}_{}", self.counter + 1);
        self.op_to(op, inputs, attrs, &out);
        out
    }

    /// Adds a node of ONNX Runtime's `com.microsoft` domain; returns the output name.
    pub fn ms_op(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: &[(&str, Attr)],
        hint: &str,
    ) -> String {
        let out = self.op(op, inputs, attrs, hint);
        if let Some(n) = self.nodes.last_mut() {
            n.string(7, MS);
        }
        self.uses_ms = true;
        out
    }

    /// Adds a node whose output has the given name.
    pub fn op_to(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], out: &str) {
        self.counter += 1;
        let mut n = Pb::default();
        for i in inputs {
            n.string(1, i);
        }
        n.string(2, out);
        n.string(3, &format!("n{}", self.counter));
        n.string(4, op);
        for (name, a) in attrs {
            let mut p = Pb::default();
            p.string(1, name);
            match a {
                Attr::Int(v) => {
                    p.int(3, *v);
                    p.int(20, 2);
                }
                Attr::Float(v) => {
                    p.float(2, *v);
                    p.int(20, 1);
                }
                Attr::Ints(vs) => {
                    for v in vs {
                        p.int(8, *v);
                    }
                    p.int(20, 7);
                }
            }
            n.msg(5, p);
        }
        self.nodes.push(n);
    }

    /// Adds an fp32 initializer.
    pub fn weight(&mut self, name: &str, dims: &[usize], v: &[f32]) -> String {
        self.inits.push(tensor(name, dims, FLOAT, &f32_bytes(v)));
        name.to_string()
    }

    /// Adds a uint8 initializer.
    pub fn bytes_u8(&mut self, name: &str, dims: &[usize], v: &[u8]) -> String {
        self.inits.push(tensor(name, dims, UINT8, v));
        name.to_string()
    }

    /// Adds an int8 initializer.
    pub fn bytes_i8(&mut self, name: &str, dims: &[usize], v: &[i8]) -> String {
        let raw: Vec<u8> = v.iter().map(|&x| x as u8).collect();
        self.inits.push(tensor(name, dims, INT8, &raw));
        name.to_string()
    }

    /// Adds an int64 initializer.
    pub fn ints(&mut self, name: &str, v: &[i64]) -> String {
        self.inits
            .push(tensor(name, &[v.len()], INT64, &i64_bytes(v)));
        name.to_string()
    }

    /// Serialises the model: int64 inputs `[batch, seq]`, one float output `[batch, seq, hidden]`.
    pub fn model(self, inputs: &[&str], output: (&str, usize), opset: i64) -> Vec<u8> {
        self.model_with_output(
            inputs,
            output.0,
            &[Err("batch"), Err("seq"), Ok(output.1)],
            opset,
        )
    }

    /// Serialises the model with int64 inputs `[batch, seq]` and one float output of the given
    /// dimensions (a number, or a symbolic name).
    pub fn model_with_output(
        self,
        inputs: &[&str],
        output: &str,
        dims: &[Result<usize, &str>],
        opset: i64,
    ) -> Vec<u8> {
        let value_info = |name: &str, elem: i64, dims: &[Result<usize, &str>]| {
            let mut shape = Pb::default();
            for d in dims {
                let mut dim = Pb::default();
                match d {
                    Ok(v) => dim.int(1, *v as i64),
                    Err(p) => dim.string(2, p),
                }
                shape.msg(1, dim);
            }
            let mut tt = Pb::default();
            tt.int(1, elem);
            tt.msg(2, shape);
            let mut ty = Pb::default();
            ty.msg(1, tt);
            let mut vi = Pb::default();
            vi.string(1, name);
            vi.msg(2, ty);
            vi
        };
        let uses_ms = self.uses_ms;
        let mut g = Pb::default();
        for n in self.nodes {
            g.msg(1, n);
        }
        g.string(2, "kefu_e5");
        for t in self.inits {
            g.msg(5, t);
        }
        for i in inputs {
            g.msg(11, value_info(i, INT64, &[Err("batch"), Err("seq")]));
        }
        g.msg(12, value_info(output, FLOAT, dims));
        let mut m = Pb::default();
        m.int(1, 8); // IR version 8
        m.string(2, "kefu");
        let mut os = Pb::default();
        os.string(1, "");
        os.int(2, opset);
        m.msg(8, os);
        if uses_ms {
            let mut os = Pb::default();
            os.string(1, MS);
            os.int(2, 1);
            m.msg(8, os);
        }
        m.msg(7, g);
        m.buf
    }
}

fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// Requantises a row-major `[rows, cols]` matrix to int8 per row (symmetric, scale = max |w| /
/// 127) and returns it transposed to `[cols, rows]` with the rows' scales.
fn int8_columns(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = vec![0i8; w.len()];
    let mut scales = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &w[r * cols..(r + 1) * cols];
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        for (c, x) in row.iter().enumerate() {
            q[c * rows + r] = (x / scale).round().clamp(-127.0, 127.0) as i8;
        }
        scales.push(scale);
    }
    (q, scales)
}

/// Builds the ONNX graph of the BERT encoder in `file` at the given precision: inputs
/// `input_ids`, `attention_mask`, `token_type_ids`; output `last_hidden_state`. The word table
/// stays in its 4-bit blocks (`GatherBlockQuantized`, exact) in every variant.
pub fn bert_graph(file: &E5File, bytes: &[u8], precision: Precision) -> Result<Vec<u8>, String> {
    let Header {
        hidden: h,
        layers,
        heads,
        ffn,
        vocab,
        max_pos,
        type_vocab,
        eps,
        ..
    } = file.header;
    let d = h / heads;
    let mut g = Graph::default();
    let get = |name: &str, n: usize| file.tensor_f32(bytes, name, n);

    // embeddings
    if !h.is_multiple_of(32) || !ffn.is_multiple_of(32) {
        return Err(format!("hidden {h} and ffn {ffn} must be multiples of 32"));
    }
    let (packed, scales) = file.tensor_q4(bytes, "emb.word", vocab * h)?;
    let word = g.bytes_u8("emb.word", &[vocab, h / 2], &packed);
    let word_scales = g.weight("emb.word.scales", &[vocab, h / 32], &scales);
    let pos = g.weight("emb.pos", &[max_pos, h], &get("emb.pos", max_pos * h)?);
    let typ = g.weight(
        "emb.type",
        &[type_vocab, h],
        &get("emb.type", type_vocab * h)?,
    );
    let ln_w = g.weight("emb.ln.w", &[h], &get("emb.ln.w", h)?);
    let ln_b = g.weight("emb.ln.b", &[h], &get("emb.ln.b", h)?);
    let we = g.ms_op(
        "GatherBlockQuantized",
        &[&word, "input_ids", &word_scales],
        &[
            ("gather_axis", Attr::Int(0)),
            ("quantize_axis", Attr::Int(1)),
            ("block_size", Attr::Int(32)),
            ("bits", Attr::Int(4)),
        ],
        "word",
    );
    let te = g.op(
        "Gather",
        &[&typ, "token_type_ids"],
        &[("axis", Attr::Int(0))],
        "type",
    );
    // positions 0..seq: slice the table (Range+Gather trips an onnxruntime shape check)
    let shape = g.op("Shape", &["input_ids"], &[], "shape");
    let one = g.ints("c_one", &[1]);
    let zero = g.ints("c_zero", &[0]);
    let two = g.ints("c_two", &[2]);
    let seq = g.op("Slice", &[&shape, &one, &two], &[], "seq");
    let pe = g.op("Slice", &[&pos, &zero, &seq, &zero], &[], "pos");
    let s1 = g.op("Add", &[&we, &te], &[], "emb");
    let s2 = g.op("Add", &[&s1, &pe], &[], "emb");
    let mut x = g.op(
        "LayerNormalization",
        &[&s2, &ln_w, &ln_b],
        &[("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))],
        "embln",
    );

    // attention bias: (1 - mask) * -10000, shaped [batch, 1, 1, seq]
    let maskf = g.op(
        "Cast",
        &["attention_mask"],
        &[("to", Attr::Int(FLOAT))],
        "maskf",
    );
    let onef = g.weight("c_onef", &[], &[1.0]);
    let neg = g.weight("c_neg", &[], &[-10000.0]);
    let inv = g.op("Sub", &[&onef, &maskf], &[], "inv");
    let bias = g.op("Mul", &[&inv, &neg], &[], "bias");
    let axes12 = g.ints("c_axes12", &[1, 2]);
    let bias = g.op("Unsqueeze", &[&bias, &axes12], &[], "bias4");
    let heads_shape = g.ints("c_heads_shape", &[0, 0, heads as i64, d as i64]);
    let back_shape = g.ints("c_back_shape", &[0, 0, h as i64]);
    let scale = g.weight("c_scale", &[], &[1.0 / (d as f32).sqrt()]);
    let half = g.weight("c_half", &[], &[0.5]);
    let sqrt2 = g.weight("c_sqrt2", &[], &[std::f32::consts::SQRT_2]);

    for l in 0..layers {
        let p = |s: &str| format!("l{l}.{s}");
        let lin = |g: &mut Graph,
                   x: &str,
                   name: &str,
                   out: usize,
                   inp: usize|
         -> Result<String, String> {
            let wname = p(&format!("{name}.w"));
            let b = g.weight(
                &p(&format!("{name}.b")),
                &[out],
                &get(&p(&format!("{name}.b")), out)?,
            );
            match precision {
                Precision::Fp32 => {
                    let w = transpose(&get(&wname, out * inp)?, out, inp);
                    let w = g.weight(&wname, &[inp, out], &w);
                    let m = g.op("MatMul", &[x, &w], &[], &p(name));
                    Ok(g.op("Add", &[&m, &b], &[], &p(name)))
                }
                Precision::Int8 => {
                    let (q, scales) = int8_columns(&get(&wname, out * inp)?, out, inp);
                    let w = g.bytes_i8(&wname, &[inp, out], &q);
                    let s = g.weight(&format!("{wname}.scales"), &[out], &scales);
                    Ok(g.ms_op("DynamicQuantizeMatMul", &[x, &w, &s, "", &b], &[], &p(name)))
                }
                Precision::Q4 | Precision::Q4Int8 => {
                    let (packed, scales) = file.tensor_q4(bytes, &wname, out * inp)?;
                    let w = g.bytes_u8(&wname, &[out, inp / 32, 16], &packed);
                    let s = g.weight(&format!("{wname}.scales"), &[out * inp / 32], &scales);
                    let level = if precision == Precision::Q4Int8 { 4 } else { 0 };
                    let m = g.ms_op(
                        "MatMulNBits",
                        &[x, &w, &s],
                        &[
                            ("K", Attr::Int(inp as i64)),
                            ("N", Attr::Int(out as i64)),
                            ("bits", Attr::Int(4)),
                            ("block_size", Attr::Int(32)),
                            ("accuracy_level", Attr::Int(level)),
                        ],
                        &p(name),
                    );
                    Ok(g.op("Add", &[&m, &b], &[], &p(name)))
                }
            }
        };
        let q = lin(&mut g, &x, "q", h, h)?;
        let k = lin(&mut g, &x, "k", h, h)?;
        let v = lin(&mut g, &x, "v", h, h)?;
        let split = |g: &mut Graph, t: &str, perm: Vec<i64>, hint: &str| {
            let r = g.op("Reshape", &[t, &heads_shape], &[], hint);
            g.op("Transpose", &[&r], &[("perm", Attr::Ints(perm))], hint)
        };
        let qh = split(&mut g, &q, vec![0, 2, 1, 3], &p("qh"));
        let kh = split(&mut g, &k, vec![0, 2, 3, 1], &p("kh"));
        let vh = split(&mut g, &v, vec![0, 2, 1, 3], &p("vh"));
        let sc = g.op("MatMul", &[&qh, &kh], &[], &p("scores"));
        let sc = g.op("Mul", &[&sc, &scale], &[], &p("scaled"));
        let sc = g.op("Add", &[&sc, &bias], &[], &p("masked"));
        let pr = g.op("Softmax", &[&sc], &[("axis", Attr::Int(-1))], &p("probs"));
        let ctx = g.op("MatMul", &[&pr, &vh], &[], &p("ctx"));
        let ctx = g.op(
            "Transpose",
            &[&ctx],
            &[("perm", Attr::Ints(vec![0, 2, 1, 3]))],
            &p("ctxt"),
        );
        let ctx = g.op("Reshape", &[&ctx, &back_shape], &[], &p("ctxr"));
        let ao = lin(&mut g, &ctx, "ao", h, h)?;
        let r1 = g.op("Add", &[&ao, &x], &[], &p("res1"));
        let aw = g.weight(&p("aln.w"), &[h], &get(&p("aln.w"), h)?);
        let ab = g.weight(&p("aln.b"), &[h], &get(&p("aln.b"), h)?);
        let x1 = g.op(
            "LayerNormalization",
            &[&r1, &aw, &ab],
            &[("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))],
            &p("aln"),
        );
        let fi = lin(&mut g, &x1, "fi", ffn, h)?;
        // exact GELU: 0.5 · x · (1 + erf(x / √2))
        let t = g.op("Div", &[&fi, &sqrt2], &[], &p("gelu"));
        let t = g.op("Erf", &[&t], &[], &p("gelu"));
        let t = g.op("Add", &[&t, &onef], &[], &p("gelu"));
        let t = g.op("Mul", &[&fi, &t], &[], &p("gelu"));
        let t = g.op("Mul", &[&t, &half], &[], &p("gelu"));
        let fo = lin(&mut g, &t, "fo", h, ffn)?;
        let r2 = g.op("Add", &[&fo, &x1], &[], &p("res2"));
        let ow = g.weight(&p("oln.w"), &[h], &get(&p("oln.w"), h)?);
        let ob = g.weight(&p("oln.b"), &[h], &get(&p("oln.b"), h)?);
        x = g.op(
            "LayerNormalization",
            &[&r2, &ow, &ob],
            &[("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))],
            &p("oln"),
        );
    }
    g.op_to("Identity", &[&x], &[], "last_hidden_state");
    Ok(g.model(
        &["input_ids", "attention_mask", "token_type_ids"],
        ("last_hidden_state", h),
        17,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_encode_like_protobuf() {
        let mut p = Pb::default();
        p.int(1, 150);
        assert_eq!(p.buf, vec![0x08, 0x96, 0x01]);
        let mut p = Pb::default();
        p.string(2, "testing");
        assert_eq!(p.buf, b"\x12\x07testing".to_vec());
        let mut p = Pb::default();
        p.int(3, -1);
        assert_eq!(p.buf.len(), 11);
    }

    #[test]
    fn int8_columns_round_trip_within_half_a_step() {
        let w = [0.5, -1.0, 0.25, 2.0, 0.0, -0.1];
        let (q, scales) = int8_columns(&w, 2, 3);
        for r in 0..2 {
            for c in 0..3 {
                let back = q[c * 2 + r] as f32 * scales[r];
                assert!((back - w[r * 3 + c]).abs() <= scales[r] / 2.0 + 1e-6);
            }
        }
        assert_eq!(q[2], -127); // row 0's largest magnitude (-1.0, column 1) maps to -127
    }

    #[test]
    fn transposes() {
        assert_eq!(
            transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    }
}
