//! A content-stream tokenizer that keeps what image and label extraction
//! needs: numeric, name, string and array operands, operators, and inline
//! images (`BI … ID … EI`) with their dictionary and raw data.
//!
//! Follows ISO 32000-1 §7.2 (lexical conventions) and §8.9.7 (inline images).
//! Dictionaries that are operands of other operators are skipped as opaque
//! values; malformed bytes are skipped, never fatal.

use lopdf::{Dictionary, Object};

/// An operand the interpreter looks at.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A number.
    Num(f64),
    /// A name, without the slash.
    Name(Vec<u8>),
    /// A string, literal or hexadecimal, its escapes resolved.
    Str(Vec<u8>),
    /// An array (`TJ`'s strings and kerning).
    Array(Vec<Object>),
    /// Anything else (dictionaries, booleans).
    Other,
}

/// What the tokenizer hands the interpreter.
#[derive(Debug)]
pub enum Event<'a> {
    /// An operator with its operands.
    Op(&'a [u8], Vec<Operand>),
    /// An inline image: its dictionary (abbreviations kept) and raw data.
    InlineImage(Dictionary, &'a [u8]),
}

fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b'\x0c' | b'\0')
}

fn is_delim(b: u8) -> bool {
    matches!(b, b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%')
}

/// Iterates the events of one content stream.
pub struct Tokens<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    /// Starts at the beginning of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Tokens { data, pos: 0 }
    }

    fn skip_white(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while self.data.get(self.pos).is_some_and(|&b| b != b'\n' && b != b'\r') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn regular(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.data.get(self.pos).is_some_and(|&b| !is_white(b) && !is_delim(b)) {
            self.pos += 1;
        }
        &self.data[start..self.pos]
    }

    /// A literal string from its opening parenthesis, escapes resolved
    /// (ISO 32000-1 §7.3.4.2); an unterminated one ends with the data.
    fn literal_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut depth = 0usize;
        while let Some(&b) = self.data.get(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => {
                    let Some(&e) = self.data.get(self.pos) else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.data.get(self.pos) {
                                    Some(&d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        // A backslash at the end of a line continues it.
                        b'\r' => {
                            if self.data.get(self.pos) == Some(&b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                b'(' => {
                    depth += 1;
                    if depth > 1 {
                        out.push(b);
                    }
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return out;
                    }
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
        self.pos = self.pos.min(self.data.len());
        out
    }

    /// Reads one value (for inline image dictionaries and skipped operands).
    /// Returns `None` at the end of data or on a stray closing delimiter.
    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        self.skip_white();
        let b = *self.data.get(self.pos)?;
        match b {
            b'/' => {
                self.pos += 1;
                Some(Value::Name(self.regular()))
            }
            b'(' => Some(Value::Bytes(self.literal_string())),
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut dict = Dictionary::new();
                if depth > 32 {
                    return Some(Value::Other);
                }
                loop {
                    self.skip_white();
                    if self.data[self.pos..].starts_with(b">>") {
                        self.pos += 2;
                        break;
                    }
                    match self.value(depth + 1)? {
                        Value::Name(k) => {
                            if let Some(v) = self.value(depth + 1) {
                                if let Some(o) = v.object() {
                                    dict.set(k.to_vec(), o);
                                }
                            }
                        }
                        Value::Close => return Some(Value::Dict(dict)),
                        _ => {}
                    }
                }
                Some(Value::Dict(dict))
            }
            b'<' => {
                let end =
                    self.data[self.pos..].iter().position(|&c| c == b'>').map_or(self.data.len(), |e| self.pos + e + 1);
                let hex: Vec<u8> = self.data[self.pos + 1..end.saturating_sub(1).max(self.pos + 1)]
                    .iter()
                    .filter(|c| c.is_ascii_hexdigit())
                    .copied()
                    .collect();
                self.pos = end;
                let bytes = hex
                    .chunks(2)
                    .map(|c| {
                        let s = std::str::from_utf8(c).unwrap_or("0");
                        u8::from_str_radix(&format!("{s:0<2}"), 16).unwrap_or(0)
                    })
                    .collect();
                Some(Value::Bytes(bytes))
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                if depth > 32 {
                    return Some(Value::Other);
                }
                loop {
                    match self.value(depth + 1) {
                        None | Some(Value::Close) => break,
                        Some(v) => items.extend(v.object()),
                    }
                }
                Some(Value::Array(items))
            }
            b']' | b'>' | b')' | b'}' => {
                self.pos += 1;
                if b == b'>' && self.data.get(self.pos) == Some(&b'>') {
                    self.pos += 1;
                }
                Some(Value::Close)
            }
            b'{' => {
                self.pos += 1;
                Some(Value::Other)
            }
            _ => {
                let word = self.regular();
                if word.is_empty() {
                    self.pos += 1;
                    return Some(Value::Other);
                }
                Some(match parse_num(word) {
                    Some(n) => Value::Num(n),
                    None => Value::Word(word),
                })
            }
        }
    }

    /// After `BI`: the dictionary up to `ID`, then the data up to `EI`.
    fn inline_image(&mut self) -> Option<Event<'a>> {
        let mut dict = Dictionary::new();
        loop {
            match self.value(0)? {
                Value::Word(b"ID") => break,
                Value::Name(k) => {
                    if let Some(o) = self.value(0).and_then(|v| v.object()) {
                        dict.set(k.to_vec(), o);
                    }
                }
                Value::Word(b"EI") => return None,
                _ => {}
            }
        }
        // One white-space byte follows ID (two for CR LF in some writers).
        if self.data.get(self.pos).is_some_and(|&b| is_white(b)) {
            self.pos += 1;
        }
        let data_start = self.pos;
        let known = unfiltered_len(&dict);
        let end = match known {
            Some(n) if data_start + n <= self.data.len() && ends_at(self.data, data_start + n) => data_start + n,
            _ => find_ei(self.data, data_start)?,
        };
        let data = &self.data[data_start..end];
        self.pos = end;
        self.skip_white();
        if self.data[self.pos..].starts_with(b"EI") {
            self.pos += 2;
        }
        Some(Event::InlineImage(dict, data))
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        let mut operands = Vec::new();
        loop {
            match self.value(0)? {
                Value::Num(n) => operands.push(Operand::Num(n)),
                Value::Name(n) => operands.push(Operand::Name(n.to_vec())),
                Value::Word(b"BI") => match self.inline_image() {
                    Some(e) => return Some(e),
                    None => operands.clear(),
                },
                Value::Word(b"true" | b"false" | b"null") => operands.push(Operand::Other),
                Value::Bytes(b) => operands.push(Operand::Str(b)),
                Value::Array(a) => operands.push(Operand::Array(a)),
                Value::Word(op) => return Some(Event::Op(op, std::mem::take(&mut operands))),
                Value::Close => {}
                _ => operands.push(Operand::Other),
            }
            if operands.len() > 64 {
                operands.clear();
            }
        }
    }
}

enum Value<'a> {
    Num(f64),
    Name(&'a [u8]),
    Word(&'a [u8]),
    Bytes(Vec<u8>),
    Array(Vec<Object>),
    Dict(Dictionary),
    Close,
    Other,
}

impl Value<'_> {
    fn object(self) -> Option<Object> {
        Some(match self {
            Value::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => Object::Integer(n as i64),
            Value::Num(n) => Object::Real(n as f32),
            Value::Name(n) => Object::Name(n.to_vec()),
            Value::Word(b"true") => Object::Boolean(true),
            Value::Word(b"false") => Object::Boolean(false),
            Value::Word(_) => Object::Null,
            Value::Bytes(b) => Object::String(b, lopdf::StringFormat::Hexadecimal),
            Value::Array(a) => Object::Array(a),
            Value::Dict(d) => Object::Dictionary(d),
            Value::Close | Value::Other => return None,
        })
    }
}

fn parse_num(word: &[u8]) -> Option<f64> {
    let first = *word.first()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    let s = std::str::from_utf8(word).ok()?;
    s.parse::<f64>().ok().or_else(|| {
        // Writers emit oddities such as "--5" or "0.5.1"; keep the leading number.
        let t: String =
            s.trim_start_matches(['-', '+']).chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let sign = if s.starts_with('-') { -1.0 } else { 1.0 };
        t.split('.').take(2).collect::<Vec<_>>().join(".").parse::<f64>().ok().map(|v| v * sign)
    })
}

/// The data length of an unfiltered inline image, when its dictionary says.
fn unfiltered_len(dict: &Dictionary) -> Option<usize> {
    if dict.has(b"F") || dict.has(b"Filter") {
        return None;
    }
    let int = |a: &[u8], b: &[u8]| dict.get(a).or_else(|_| dict.get(b)).ok().and_then(|o| o.as_float().ok());
    let w = int(b"W", b"Width")? as usize;
    let h = int(b"H", b"Height")? as usize;
    let mask = matches!(dict.get(b"IM").or_else(|_| dict.get(b"ImageMask")), Ok(Object::Boolean(true)));
    let bpc = if mask { 1 } else { int(b"BPC", b"BitsPerComponent").unwrap_or(8.0) as usize };
    let comps = if mask {
        1
    } else {
        match dict.get(b"CS").or_else(|_| dict.get(b"ColorSpace")) {
            Ok(Object::Name(n)) => match n.as_slice() {
                b"G" | b"DeviceGray" | b"CalGray" | b"I" | b"Indexed" => 1,
                b"RGB" | b"DeviceRGB" | b"CalRGB" => 3,
                b"CMYK" | b"DeviceCMYK" => 4,
                _ => return None,
            },
            Ok(Object::Array(a)) if matches!(a.first(), Some(Object::Name(n)) if n == b"I" || n == b"Indexed") => 1,
            _ => return None,
        }
    };
    w.checked_mul(bpc)?.checked_mul(comps)?.div_ceil(8).checked_mul(h)
}

/// `EI` at `at` (after optional white space) followed by white space or the end.
fn ends_at(data: &[u8], mut at: usize) -> bool {
    while data.get(at).is_some_and(|&b| is_white(b)) {
        at += 1;
    }
    data[at..].starts_with(b"EI") && data.get(at + 2).is_none_or(|&b| is_white(b) || is_delim(b))
}

/// The end of filtered inline data: the first white space + `EI` + white
/// space (or end) after `from`.
fn find_ei(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 2 <= data.len() {
        if data[i] == b'E'
            && data[i + 1] == b'I'
            && i > from
            && is_white(data[i - 1])
            && data.get(i + 2).is_none_or(|&b| is_white(b))
        {
            return Some(i - 1);
        }
        i += 1;
    }
    (data.len() > from).then_some(data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_inline_images() {
        let s = b"q 100 0 0 50 10 20 cm /Im1 Do Q BI /W 2 /H 2 /BPC 8 /CS /G ID \x01EI\x03\x04 EI Q (a)Tj";
        let ev: Vec<Event> = Tokens::new(s).collect();
        assert!(matches!(&ev[0], Event::Op(b"q", o) if o.is_empty()));
        assert!(matches!(&ev[1], Event::Op(b"cm", o) if o.len() == 6 && o[4] == Operand::Num(10.0)));
        assert!(matches!(&ev[2], Event::Op(b"Do", o) if o[0] == Operand::Name(b"Im1".to_vec())));
        match &ev[4] {
            Event::InlineImage(d, data) => {
                assert_eq!(d.get(b"W").unwrap().as_i64().unwrap(), 2);
                assert_eq!(*data, b"\x01EI\x03\x04", "the length rule keeps EI inside the data");
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(&ev[5], Event::Op(b"Q", _)));
        assert!(matches!(&ev[6], Event::Op(b"Tj", o) if o == &[Operand::Str(b"a".to_vec())]));
    }

    #[test]
    fn strings_and_arrays() {
        let s = br"(a\(b\) \101\n(nested)) Tj [(2) -120 <3030> (\265m)] TJ (cut";
        let ev: Vec<Event> = Tokens::new(s).collect();
        assert!(matches!(&ev[0], Event::Op(b"Tj", o) if o == &[Operand::Str(b"a(b) A\n(nested)".to_vec())]));
        let Event::Op(b"TJ", o) = &ev[1] else { panic!("{:?}", ev[1]) };
        let Operand::Array(a) = &o[0] else { panic!("{o:?}") };
        let strings: Vec<&[u8]> = a.iter().filter_map(|o| o.as_str().ok()).collect();
        assert_eq!(strings, [b"2".as_slice(), b"00", b"\xb5m"]);
        assert_eq!(a[1].as_float().unwrap(), -120.0);
        assert_eq!(ev.len(), 2, "an unterminated string is no operator");
    }

    #[test]
    fn filtered_inline_image_ends_at_white_ei() {
        let s = b"BI /W 4 /H 4 /F /AHx ID 00ff00ff> EI Q";
        let ev: Vec<Event> = Tokens::new(s).collect();
        assert!(matches!(&ev[0], Event::InlineImage(_, b"00ff00ff>")));
        assert!(matches!(&ev[1], Event::Op(b"Q", _)));
    }

    #[test]
    fn garbage_never_loops() {
        for s in [&b"<<<<]]]>>>)(("[..], b"BI", b"BI /W ID", b"[[[[", b"<a", b"/", b"\xff\xfe 1 2 3"] {
            let _ = Tokens::new(s).take(1000).count();
        }
    }
}
