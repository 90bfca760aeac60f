//! Typed call arguments and results.
//!
//! Fabric's contract API passes every argument as a string (UTF-8 bytes); numbers and booleans
//! are their decimal and `true`/`false` spellings, structured values are JSON.

use crate::{ContractError, JsonValue};

/// A type a call argument can be parsed into.
pub trait FromArg: Sized {
    /// The type's name in the interface manifest.
    const TYPE_NAME: &'static str;
    /// Parses the argument called `name` from its bytes.
    fn from_arg(name: &str, bytes: &[u8]) -> Result<Self, ContractError>;
}

fn utf8<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str, ContractError> {
    std::str::from_utf8(bytes)
        .map_err(|_| ContractError::bad_request(format!("argument '{}' is not valid UTF-8", name)))
}

impl FromArg for String {
    const TYPE_NAME: &'static str = "string";
    fn from_arg(name: &str, bytes: &[u8]) -> Result<Self, ContractError> {
        utf8(name, bytes).map(str::to_owned)
    }
}

impl FromArg for Vec<u8> {
    const TYPE_NAME: &'static str = "bytes";
    fn from_arg(_name: &str, bytes: &[u8]) -> Result<Self, ContractError> {
        Ok(bytes.to_vec())
    }
}

impl FromArg for bool {
    const TYPE_NAME: &'static str = "bool";
    fn from_arg(name: &str, bytes: &[u8]) -> Result<Self, ContractError> {
        match utf8(name, bytes)? {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(ContractError::bad_request(format!(
                "argument '{}' must be true or false, got '{}'",
                name, other
            ))),
        }
    }
}

impl FromArg for JsonValue {
    const TYPE_NAME: &'static str = "json";
    fn from_arg(name: &str, bytes: &[u8]) -> Result<Self, ContractError> {
        JsonValue::parse(bytes).map_err(|e| {
            ContractError::bad_request(format!("argument '{}' is not JSON: {}", name, e))
        })
    }
}

macro_rules! number_arg {
    ($($t:ty => $n:expr),*) => {$(
        impl FromArg for $t {
            const TYPE_NAME: &'static str = $n;
            fn from_arg(name: &str, bytes: &[u8]) -> Result<Self, ContractError> {
                let text = utf8(name, bytes)?;
                text.trim().parse::<$t>().map_err(|_| {
                    ContractError::bad_request(format!(
                        "argument '{}' must be a {} number, got '{}'", name, $n, text
                    ))
                })
            }
        }
    )*};
}
number_arg!(i64 => "i64", i32 => "i32", u64 => "u64", u32 => "u32", f64 => "f64", f32 => "f32");

/// A value a function can return as its payload.
pub trait IntoPayload {
    /// The payload bytes.
    fn into_payload(self) -> Vec<u8>;
}

impl IntoPayload for () {
    fn into_payload(self) -> Vec<u8> {
        Vec::new()
    }
}

impl IntoPayload for Vec<u8> {
    fn into_payload(self) -> Vec<u8> {
        self
    }
}

impl IntoPayload for String {
    fn into_payload(self) -> Vec<u8> {
        self.into_bytes()
    }
}

impl IntoPayload for JsonValue {
    fn into_payload(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

macro_rules! display_payload {
    ($($t:ty),*) => {$(
        impl IntoPayload for $t {
            fn into_payload(self) -> Vec<u8> {
                self.to_string().into_bytes()
            }
        }
    )*};
}
display_payload!(bool, i64, i32, u64, u32, usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fabric_style_arguments() {
        assert_eq!(i64::from_arg("n", b"-42").unwrap(), -42);
        assert!(i64::from_arg("n", b"4x")
            .unwrap_err()
            .message
            .contains("'n' must be a i64"));
        assert!(bool::from_arg("b", b"true").unwrap());
        assert_eq!(bool::from_arg("b", b"yes").unwrap_err().status, 400);
        assert!(String::from_arg("s", &[0xff]).is_err());
        assert_eq!(true.into_payload(), b"true");
    }
}
