//! Stream filters (ISO 32000-1 §7.4): the general-purpose ones are decoded
//! here, each bounded by a byte limit; the image codecs (DCT, JPX, JBIG2,
//! CCITT) end a chain and are handed to [`super::decode`].

use std::io::Read;

use lopdf::{Dictionary, Document, Object};

use crate::extract::ExtractError;

/// An image codec that ends a filter chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// DCTDecode (JPEG).
    Dct,
    /// JPXDecode (JPEG 2000).
    Jpx,
    /// JBIG2Decode.
    Jbig2,
    /// CCITTFaxDecode.
    Ccitt,
}

/// The `encoding` reported for an image with this chain: the codec, else
/// the last general filter, else `raw`.
pub fn encoding(chain: &[(Vec<u8>, Dictionary)]) -> &'static str {
    let Some((last, _)) = chain.last() else { return "raw" };
    match codec(last) {
        Some(Codec::Dct) => "jpeg",
        Some(Codec::Jpx) => "jpx",
        Some(Codec::Jbig2) => "jbig2",
        Some(Codec::Ccitt) => "ccitt",
        None => match last.as_slice() {
            b"FlateDecode" | b"Fl" => "flate",
            b"LZWDecode" | b"LZW" => "lzw",
            b"RunLengthDecode" | b"RL" => "runlength",
            b"ASCIIHexDecode" | b"AHx" | b"ASCII85Decode" | b"A85" => {
                chain.len().checked_sub(2).map_or("raw", |i| encoding(&chain[..=i]))
            }
            _ => "unknown",
        },
    }
}

fn codec(name: &[u8]) -> Option<Codec> {
    Some(match name {
        b"DCTDecode" | b"DCT" => Codec::Dct,
        b"JPXDecode" => Codec::Jpx,
        b"JBIG2Decode" => Codec::Jbig2,
        b"CCITTFaxDecode" | b"CCF" => Codec::Ccitt,
        _ => return None,
    })
}

/// The filter chain of a stream or inline image dictionary, each filter with
/// its parameters (empty when absent).
pub fn chain(dict: &Dictionary, doc: &Document) -> Vec<(Vec<u8>, Dictionary)> {
    let get = |a: &[u8], b: &[u8]| {
        dict.get(a).or_else(|_| dict.get(b)).ok().map(|o| doc.dereference(o).map(|(_, o)| o).unwrap_or(o))
    };
    let names: Vec<Vec<u8>> = match get(b"Filter", b"F") {
        Some(Object::Name(n)) => vec![n.clone()],
        Some(Object::Array(a)) => a
            .iter()
            .filter_map(|o| doc.dereference(o).ok().and_then(|(_, o)| o.as_name().ok()).map(<[u8]>::to_vec))
            .collect(),
        _ => Vec::new(),
    };
    let parms: Vec<Dictionary> = match get(b"DecodeParms", b"DP") {
        Some(Object::Dictionary(d)) => vec![d.clone()],
        Some(Object::Array(a)) => a
            .iter()
            .map(|o| doc.dereference(o).ok().and_then(|(_, o)| o.as_dict().ok()).cloned().unwrap_or_default())
            .collect(),
        _ => Vec::new(),
    };
    names.into_iter().enumerate().map(|(i, n)| (n, parms.get(i).cloned().unwrap_or_default())).collect()
}

/// An image codec ending a chain, with its `/DecodeParms`.
pub type Terminal = (Codec, Dictionary);

/// Applies the general filters of `chain`; stops at an image codec and
/// returns it with its parameters.
pub fn apply(
    data: &[u8],
    chain: &[(Vec<u8>, Dictionary)],
    limit: usize,
) -> Result<(Vec<u8>, Option<Terminal>), ExtractError> {
    let mut buf = data.to_vec();
    for (i, (name, parms)) in chain.iter().enumerate() {
        if let Some(c) = codec(name) {
            if i + 1 != chain.len() {
                return Err(ExtractError::Unsupported(format!("filter after {}", String::from_utf8_lossy(name))));
            }
            return Ok((buf, Some((c, parms.clone()))));
        }
        buf = match name.as_slice() {
            b"FlateDecode" | b"Fl" => predict(flate(&buf, limit)?, parms)?,
            b"LZWDecode" | b"LZW" => {
                let early = parms.get(b"EarlyChange").and_then(Object::as_i64).unwrap_or(1) != 0;
                predict(lzw(&buf, early, limit)?, parms)?
            }
            b"RunLengthDecode" | b"RL" => run_length(&buf, limit)?,
            b"ASCIIHexDecode" | b"AHx" => ascii_hex(&buf),
            b"ASCII85Decode" | b"A85" => ascii85(&buf)?,
            b"Crypt" => buf,
            other => return Err(ExtractError::Unsupported(format!("filter {}", String::from_utf8_lossy(other)))),
        };
        if buf.len() > limit {
            return Err(ExtractError::TooLarge(format!("stream decodes to more than {limit} bytes")));
        }
    }
    Ok((buf, None))
}

fn too_large(limit: usize) -> ExtractError {
    ExtractError::TooLarge(format!("stream decodes to more than {limit} bytes"))
}

/// zlib, falling back to raw deflate; a damaged tail keeps what decoded.
fn flate(data: &[u8], limit: usize) -> Result<Vec<u8>, ExtractError> {
    let mut out = Vec::new();
    let zlib = flate2::read::ZlibDecoder::new(data).take(limit as u64 + 1).read_to_end(&mut out);
    if zlib.is_err() && out.is_empty() {
        let raw = flate2::read::DeflateDecoder::new(data).take(limit as u64 + 1).read_to_end(&mut out);
        if let Err(e) = raw {
            if out.is_empty() {
                return Err(ExtractError::Decode(format!("flate: {e}")));
            }
        }
    }
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

fn lzw(data: &[u8], early_change: bool, limit: usize) -> Result<Vec<u8>, ExtractError> {
    let mut dec = if early_change {
        weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
    } else {
        weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
    };
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    let mut input = data;
    loop {
        let r = dec.decode_bytes(input, &mut chunk);
        out.extend_from_slice(&chunk[..r.consumed_out]);
        input = &input[r.consumed_in..];
        if out.len() > limit {
            return Err(too_large(limit));
        }
        match r.status {
            Ok(weezl::LzwStatus::Ok) if r.consumed_in + r.consumed_out > 0 => {}
            Ok(_) => break,
            Err(e) if out.is_empty() => return Err(ExtractError::Decode(format!("lzw: {e}"))),
            Err(_) => break,
        }
    }
    Ok(out)
}

fn run_length(data: &[u8], limit: usize) -> Result<Vec<u8>, ExtractError> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&n) = data.get(i) {
        match n {
            128 => break,
            0..=127 => {
                let end = (i + 2 + n as usize).min(data.len());
                out.extend_from_slice(&data[(i + 1).min(end)..end]);
                i = end;
            }
            _ => {
                if let Some(&b) = data.get(i + 1) {
                    out.extend(std::iter::repeat_n(b, 257 - n as usize));
                }
                i += 2;
            }
        }
        if out.len() > limit {
            return Err(too_large(limit));
        }
    }
    Ok(out)
}

fn ascii_hex(data: &[u8]) -> Vec<u8> {
    let digits: Vec<u8> =
        data.iter().take_while(|&&b| b != b'>').filter_map(|&b| (b as char).to_digit(16).map(|d| d as u8)).collect();
    digits.chunks(2).map(|c| c[0] << 4 | c.get(1).copied().unwrap_or(0)).collect()
}

fn ascii85(data: &[u8]) -> Result<Vec<u8>, ExtractError> {
    let mut out = Vec::with_capacity(data.len() * 4 / 5);
    let mut group = [0u32; 5];
    let mut n = 0;
    let body = data.strip_prefix(b"<~").unwrap_or(data);
    for &b in body {
        match b {
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group[n] = (b - b'!') as u32;
                n += 1;
                if n == 5 {
                    let v = group.iter().try_fold(0u32, |acc, &d| acc.checked_mul(85)?.checked_add(d));
                    let v = v.ok_or_else(|| ExtractError::Decode("ascii85 group overflows".into()))?;
                    out.extend_from_slice(&v.to_be_bytes());
                    n = 0;
                }
            }
            _ => {}
        }
    }
    if n > 1 {
        for g in group.iter_mut().skip(n) {
            *g = 84;
        }
        let v = group.iter().fold(0u64, |acc, &d| acc * 85 + d as u64) as u32;
        out.extend_from_slice(&v.to_be_bytes()[..n - 1]);
    }
    Ok(out)
}

/// PNG (10–15) and TIFF (2) predictors at any bit depth.
fn predict(data: Vec<u8>, parms: &Dictionary) -> Result<Vec<u8>, ExtractError> {
    let int = |k: &[u8], d: i64| parms.get(k).and_then(Object::as_i64).unwrap_or(d);
    let predictor = int(b"Predictor", 1);
    if predictor < 2 {
        return Ok(data);
    }
    let colors = int(b"Colors", 1).clamp(1, 32) as usize;
    let bpc = int(b"BitsPerComponent", 8).clamp(1, 16) as usize;
    let columns = int(b"Columns", 1).clamp(1, 1 << 24) as usize;
    let row = (colors * bpc * columns).div_ceil(8);
    let bpp = (colors * bpc).div_ceil(8).max(1);
    if predictor == 2 {
        let mut out = data;
        for line in out.chunks_mut(row) {
            tiff_row(line, colors, bpc);
        }
        return Ok(out);
    }
    let mut out = Vec::with_capacity(data.len());
    let mut prev = vec![0u8; row];
    for chunk in data.chunks(row + 1) {
        let (&kind, src) = chunk.split_first().expect("chunks are not empty");
        let mut cur = src.to_vec();
        cur.resize(row, 0);
        for i in 0..row {
            let a = if i >= bpp { cur[i - bpp] } else { 0 };
            let b = prev[i];
            let c = if i >= bpp { prev[i - bpp] } else { 0 };
            cur[i] = cur[i].wrapping_add(match kind {
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                4 => paeth(a, b, c),
                _ => 0,
            });
        }
        out.extend_from_slice(&cur[..src.len().min(row)]);
        prev = cur;
    }
    Ok(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = a as i16 + b as i16 - c as i16;
    let (pa, pb, pc) = ((p - a as i16).abs(), (p - b as i16).abs(), (p - c as i16).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// TIFF predictor 2 on one row: each sample adds the one `colors` before it.
fn tiff_row(line: &mut [u8], colors: usize, bpc: usize) {
    match bpc {
        8 => {
            for i in colors..line.len() {
                line[i] = line[i].wrapping_add(line[i - colors]);
            }
        }
        16 => {
            let step = 2 * colors;
            for i in (step..line.len().saturating_sub(1)).step_by(2) {
                let v = u16::from_be_bytes([line[i], line[i + 1]])
                    .wrapping_add(u16::from_be_bytes([line[i - step], line[i - step + 1]]));
                line[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
        }
        _ => {
            let n = line.len() * 8 / bpc;
            let mask = (1u16 << bpc) - 1;
            let get = |l: &[u8], i: usize| {
                let bit = i * bpc;
                ((u16::from(l[bit / 8]) << 8 | u16::from(*l.get(bit / 8 + 1).unwrap_or(&0))) >> (16 - bpc - bit % 8))
                    & mask
            };
            for i in colors..n {
                let v = (get(line, i) + get(line, i - colors)) & mask;
                let bit = i * bpc;
                let shift = 16 - bpc - bit % 8;
                let mut word = u16::from(line[bit / 8]) << 8 | u16::from(*line.get(bit / 8 + 1).unwrap_or(&0));
                word = word & !(mask << shift) | v << shift;
                line[bit / 8] = (word >> 8) as u8;
                if let Some(b) = line.get_mut(bit / 8 + 1) {
                    *b = word as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parms(pairs: &[(&str, i64)]) -> Dictionary {
        let mut d = Dictionary::new();
        for (k, v) in pairs {
            d.set(k.as_bytes().to_vec(), Object::Integer(*v));
        }
        d
    }

    #[test]
    fn ascii_filters() {
        assert_eq!(ascii_hex(b"48 65 6c6C6f7>"), b"Hellop");
        assert_eq!(ascii85(b"<~87cURDZ~>").unwrap(), b"Hello");
        assert_eq!(ascii85(b"z~>").unwrap(), [0, 0, 0, 0]);
        assert_eq!(run_length(&[2, b'a', b'b', b'c', 254, b'x', 128], 100).unwrap(), b"abcxxx");
    }

    #[test]
    fn flate_with_png_up_predictor() {
        use std::io::Write;
        // Two rows of 3 bytes: row 2 is "up" (filter 2) relative to row 1.
        let rows = [0u8, 10, 20, 30, 2, 1, 1, 1];
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&rows).unwrap();
        let chain = vec![(b"FlateDecode".to_vec(), parms(&[("Predictor", 12), ("Columns", 3)]))];
        let (out, codec) = apply(&z.finish().unwrap(), &chain, 1 << 20).unwrap();
        assert_eq!(out, [10, 20, 30, 11, 21, 31]);
        assert!(codec.is_none());
    }

    #[test]
    fn tiff_predictor_at_4_bits() {
        let mut row = [0x11, 0x11];
        tiff_row(&mut row, 1, 4);
        assert_eq!(row, [0x12, 0x34]);
    }

    #[test]
    fn lzw_round_trip_and_limits() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let enc = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8).encode(&data).unwrap();
        assert_eq!(lzw(&enc, true, 1 << 20).unwrap(), data);
        assert!(matches!(lzw(&enc, true, 100), Err(ExtractError::TooLarge(_))));
        let bomb = {
            use std::io::Write;
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(&vec![0u8; 10 << 20]).unwrap();
            z.finish().unwrap()
        };
        assert!(matches!(flate(&bomb, 1 << 20), Err(ExtractError::TooLarge(_))));
    }

    #[test]
    fn codec_ends_the_chain() {
        let chain = vec![(b"ASCIIHexDecode".to_vec(), Dictionary::new()), (b"DCTDecode".to_vec(), Dictionary::new())];
        let (out, codec) = apply(b"ffd8>", &chain, 100).unwrap();
        assert_eq!(out, [0xff, 0xd8]);
        assert_eq!(codec.map(|c| c.0), Some(Codec::Dct));
        assert_eq!(encoding(&chain), "jpeg");
    }
}
