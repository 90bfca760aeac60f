//! A small JSON value with a parser and a compact, deterministic writer (object keys sorted),
//! so contracts can store and return JSON without third-party crates.

use std::collections::BTreeMap;
use std::fmt;

use crate::ContractError;

/// Deepest nesting the parser accepts.
pub const MAX_DEPTH: usize = 128;

/// A JSON value. Objects keep their keys sorted, so the same value always prints the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonValue>),
    /// An object, keys sorted.
    Object(BTreeMap<String, JsonValue>),
}

/// Why JSON could not be parsed or converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// What was wrong, with the byte offset or field name.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonError {}

impl From<JsonError> for ContractError {
    fn from(e: JsonError) -> Self {
        ContractError::bad_request(format!("invalid JSON: {}", e.message))
    }
}

fn err<T>(message: String) -> Result<T, JsonError> {
    Err(JsonError { message })
}

/// Converts a Rust value to JSON.
pub trait ToJson {
    /// The JSON form of `self`.
    fn to_json(&self) -> JsonValue;
}

/// Builds a Rust value from JSON.
pub trait FromJson: Sized {
    /// Converts `value`, saying which field or type did not match.
    fn from_json(value: &JsonValue) -> Result<Self, JsonError>;
}

impl JsonValue {
    /// Parses JSON text (the whole input must be one value).
    pub fn parse(bytes: &[u8]) -> Result<JsonValue, JsonError> {
        let mut p = Parser { bytes, at: 0 };
        let value = p.value(0)?;
        p.ws();
        if p.at != bytes.len() {
            return err(format!("unexpected trailing data at byte {}", p.at));
        }
        Ok(value)
    }

    /// Builds an object from `(key, value)` pairs.
    pub fn object<K: Into<String>, I: IntoIterator<Item = (K, JsonValue)>>(pairs: I) -> JsonValue {
        JsonValue::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&JsonValue> {
        match self {
            JsonValue::Object(map) => map.get(key),
            _ => None,
        }
    }

    /// The member `key` of an object, converted; errors name the missing or mistyped field.
    pub fn field<T: FromJson>(&self, key: &str) -> Result<T, JsonError> {
        match self.get(key) {
            Some(v) => T::from_json(v).map_err(|e| JsonError {
                message: format!("field '{}': {}", key, e.message),
            }),
            None => err(format!("missing field '{}'", key)),
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            JsonValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            JsonValue::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The compact JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for JsonValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonValue::Null => f.write_str("null"),
            JsonValue::Bool(b) => write!(f, "{}", b),
            JsonValue::Int(n) => write!(f, "{}", n),
            JsonValue::Float(x) if x.is_finite() => write!(f, "{}", x),
            JsonValue::Float(_) => f.write_str("null"),
            JsonValue::String(s) => write_str(f, s),
            JsonValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", item)?;
                }
                f.write_str("]")
            }
            JsonValue::Object(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_str(f, k)?;
                    write!(f, ":{}", v)?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{}", c)?,
        }
    }
    f.write_str("\"")
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn expect(&mut self, word: &str) -> Result<(), JsonError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            err(format!("expected '{}' at byte {}", word, self.at))
        }
    }

    fn value(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        if depth > MAX_DEPTH {
            return err(format!(
                "nesting deeper than {} at byte {}",
                MAX_DEPTH, self.at
            ));
        }
        self.ws();
        match self.bytes.get(self.at) {
            None => err("unexpected end of input".to_string()),
            Some(b'n') => self.expect("null").map(|_| JsonValue::Null),
            Some(b't') => self.expect("true").map(|_| JsonValue::Bool(true)),
            Some(b'f') => self.expect("false").map(|_| JsonValue::Bool(false)),
            Some(b'"') => self.string().map(JsonValue::String),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.ws();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(JsonValue::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(JsonValue::Array(items));
                        }
                        _ => return err(format!("expected ',' or ']' at byte {}", self.at)),
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                let mut map = BTreeMap::new();
                self.ws();
                if self.bytes.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(JsonValue::Object(map));
                }
                loop {
                    self.ws();
                    if self.bytes.get(self.at) != Some(&b'"') {
                        return err(format!("expected a string key at byte {}", self.at));
                    }
                    let key = self.string()?;
                    self.ws();
                    self.expect(":")?;
                    let value = self.value(depth + 1)?;
                    map.insert(key, value);
                    self.ws();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(JsonValue::Object(map));
                        }
                        _ => return err(format!("expected ',' or '}}' at byte {}", self.at)),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(c) => err(format!(
                "unexpected character '{}' at byte {}",
                *c as char, self.at
            )),
        }
    }

    fn number(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.at;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.at) {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or("");
        if let Ok(n) = text.parse::<i64>() {
            return Ok(JsonValue::Int(n));
        }
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(JsonValue::Float(x)),
            _ => err(format!("invalid number '{}' at byte {}", text, start)),
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| JsonError {
                message: format!("truncated \\u escape at byte {}", self.at),
            })?;
        let text = std::str::from_utf8(digits).unwrap_or("");
        let n = u32::from_str_radix(text, 16).map_err(|_| JsonError {
            message: format!("invalid \\u escape at byte {}", self.at),
        })?;
        self.at += 4;
        Ok(n)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            let chunk =
                std::str::from_utf8(&self.bytes[start..self.at]).map_err(|_| JsonError {
                    message: format!("invalid UTF-8 in string at byte {}", start),
                })?;
            out.push_str(chunk);
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = self.bytes.get(self.at).copied();
                    self.at += 1;
                    match c {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code)
                                && self.bytes[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let low = self.hex4()?;
                                code = 0x10000
                                    + ((code - 0xD800) << 10)
                                    + (low.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                        }
                        _ => return err(format!("invalid escape at byte {}", self.at - 1)),
                    }
                }
                _ => return err(format!("unterminated string starting at byte {}", start)),
            }
        }
    }
}

impl ToJson for JsonValue {
    fn to_json(&self) -> JsonValue {
        self.clone()
    }
}
impl FromJson for JsonValue {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        Ok(value.clone())
    }
}
impl ToJson for String {
    fn to_json(&self) -> JsonValue {
        JsonValue::String(self.clone())
    }
}
impl ToJson for str {
    fn to_json(&self) -> JsonValue {
        JsonValue::String(self.to_owned())
    }
}
impl FromJson for String {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.as_str().map(str::to_owned).ok_or_else(|| JsonError {
            message: "expected a string".to_string(),
        })
    }
}
impl ToJson for i64 {
    fn to_json(&self) -> JsonValue {
        JsonValue::Int(*self)
    }
}
impl FromJson for i64 {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        value.as_i64().ok_or_else(|| JsonError {
            message: "expected an integer".to_string(),
        })
    }
}
impl ToJson for bool {
    fn to_json(&self) -> JsonValue {
        JsonValue::Bool(*self)
    }
}
impl FromJson for bool {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        match value {
            JsonValue::Bool(b) => Ok(*b),
            _ => err("expected true or false".to_string()),
        }
    }
}
impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> JsonValue {
        JsonValue::Array(self.iter().map(ToJson::to_json).collect())
    }
}
impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        match value {
            JsonValue::Array(items) => items.iter().map(T::from_json).collect(),
            _ => err("expected an array".to_string()),
        }
    }
}
impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> JsonValue {
        match self {
            Some(v) => v.to_json(),
            None => JsonValue::Null,
        }
    }
}
impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        match value {
            JsonValue::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, printed: &str) {
        let value = JsonValue::parse(input.as_bytes()).unwrap();
        assert_eq!(value.to_string(), printed);
        assert_eq!(JsonValue::parse(printed.as_bytes()).unwrap(), value);
    }

    #[test]
    fn parses_and_prints_canonically() {
        check(
            r#" {"b": [1, -2, 3.5, true, null], "a": "x\"\u00e9\n"} "#,
            "{\"a\":\"x\\\"é\\n\",\"b\":[1,-2,3.5,true,null]}",
        );
        check("[]", "[]");
        check("{}", "{}");
        check(r#""\ud83d\ude00""#, "\"😀\"");
        check("12345678901234567890", "12345678901234567000");
    }

    #[test]
    fn rejects_bad_input_with_position() {
        for bad in ["", "{", "[1,]", "tru", "\"abc", "{\"a\" 1}", "1 2", "01x"] {
            assert!(JsonValue::parse(bad.as_bytes()).is_err(), "{}", bad);
        }
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert!(JsonValue::parse(deep.as_bytes())
            .unwrap_err()
            .message
            .contains("nesting"));
    }

    #[test]
    fn fields_name_what_is_missing() {
        let v = JsonValue::parse(br#"{"ID":"a","Size":"5"}"#).unwrap();
        assert_eq!(v.field::<String>("ID").unwrap(), "a");
        assert_eq!(
            v.field::<i64>("Size").unwrap_err().message,
            "field 'Size': expected an integer"
        );
        assert_eq!(
            v.field::<i64>("Nope").unwrap_err().message,
            "missing field 'Nope'"
        );
    }
}
