//! Fabric's composite keys: `\x00` object type `\x00` each attribute `\x00`.
//!
//! Composite keys sort together by object type and attribute prefix, so a partial composite
//! key is a plain key prefix and a partial-key query is a prefix scan.

use crate::error::{LedgerError, Result};

/// The byte that starts a composite key and ends each of its parts.
pub const COMPOSITE_KEY_NAMESPACE: char = '\u{0}';

/// The highest Unicode scalar: Fabric appends it to a prefix to get a range's end key.
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';

/// Builds the composite key of `object_type` and `attributes`.
///
/// Fails when a part contains a NUL (it would make the key ambiguous) or the object type is
/// empty, with the same rules as Fabric's chaincode shim.
pub fn composite_key<S: AsRef<str>>(object_type: &str, attributes: &[S]) -> Result<String> {
    if object_type.is_empty() {
        return Err(LedgerError::InvalidKey(
            "a composite key needs a non-empty object type".into(),
        ));
    }
    let mut key = String::with_capacity(2 + object_type.len());
    key.push(COMPOSITE_KEY_NAMESPACE);
    for part in std::iter::once(object_type).chain(attributes.iter().map(AsRef::as_ref)) {
        if part.contains(COMPOSITE_KEY_NAMESPACE) || part.contains(MAX_UNICODE_RUNE) {
            return Err(LedgerError::InvalidKey(format!(
                "composite key part {part:?} contains U+0000 or U+10FFFF; remove them"
            )));
        }
        key.push_str(part);
        key.push(COMPOSITE_KEY_NAMESPACE);
    }
    Ok(key)
}

/// The object type and attributes of a composite key, or `None` for a simple key.
pub fn split_composite_key(key: &str) -> Option<(String, Vec<String>)> {
    let rest = key.strip_prefix(COMPOSITE_KEY_NAMESPACE)?;
    let mut parts: Vec<String> = rest
        .split(COMPOSITE_KEY_NAMESPACE)
        .map(str::to_owned)
        .collect();
    // The key ends with a separator, so the last piece is empty.
    if parts.pop().as_deref() != Some("") || parts.is_empty() {
        return None;
    }
    let object_type = parts.remove(0);
    Some((object_type, parts))
}

/// The `[start, end)` key range of every composite key starting with `object_type` and
/// `attributes`, as Fabric computes it (`end` = prefix followed by U+10FFFF).
pub fn partial_composite_range<S: AsRef<str>>(
    object_type: &str,
    attributes: &[S],
) -> Result<(String, String)> {
    let start = composite_key(object_type, attributes)?;
    let mut end = start.clone();
    end.push(MAX_UNICODE_RUNE);
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_splits() {
        let key = composite_key("color~name", &["blue", "asset1"]).unwrap();
        assert_eq!(key, "\u{0}color~name\u{0}blue\u{0}asset1\u{0}");
        assert_eq!(
            split_composite_key(&key),
            Some((
                "color~name".to_string(),
                vec!["blue".to_string(), "asset1".to_string()]
            ))
        );
        assert_eq!(split_composite_key("plain"), None);
        let bare = composite_key::<&str>("t", &[]).unwrap();
        assert_eq!(split_composite_key(&bare), Some(("t".to_string(), vec![])));
    }

    #[test]
    fn rejects_ambiguous_parts() {
        assert!(composite_key("t", &["a\u{0}b"]).is_err());
        assert!(composite_key::<&str>("", &[]).is_err());
    }

    #[test]
    fn partial_range_brackets_longer_keys_only() {
        let (start, end) = partial_composite_range("color~name", &["blue"]).unwrap();
        let inside = composite_key("color~name", &["blue", "zzz"]).unwrap();
        let other = composite_key("color~name", &["bluegreen", "a"]).unwrap();
        assert!(start <= inside && inside < end);
        assert!(!(start <= other && other < end));
    }
}
