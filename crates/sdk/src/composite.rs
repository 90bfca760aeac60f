//! Composite keys in Fabric's layout: `U+0000 objectType U+0000 attr1 U+0000 attr2 U+0000 …`.

use crate::ContractError;

/// The separator and prefix of composite keys.
pub const COMPOSITE_KEY_NAMESPACE: char = '\u{0}';
/// The largest Unicode scalar value; a partial-key range ends at `prefix + MAX_UNICODE_RUNE`.
pub const MAX_UNICODE_RUNE: char = '\u{10FFFF}';

/// Builds a composite key; the type and attributes must be valid and contain no U+0000.
pub fn create_composite_key(
    object_type: &str,
    attributes: &[&str],
) -> Result<String, ContractError> {
    check_part(object_type)?;
    let mut key = String::with_capacity(
        2 + object_type.len() + attributes.iter().map(|a| a.len() + 1).sum::<usize>(),
    );
    key.push(COMPOSITE_KEY_NAMESPACE);
    key.push_str(object_type);
    key.push(COMPOSITE_KEY_NAMESPACE);
    for attribute in attributes {
        check_part(attribute)?;
        key.push_str(attribute);
        key.push(COMPOSITE_KEY_NAMESPACE);
    }
    Ok(key)
}

/// Splits a composite key into its object type and attributes.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), ContractError> {
    let inner = key
        .strip_prefix(COMPOSITE_KEY_NAMESPACE)
        .and_then(|k| k.strip_suffix(COMPOSITE_KEY_NAMESPACE))
        .ok_or_else(|| {
            ContractError::bad_request(format!("'{}' is not a composite key", key.escape_default()))
        })?;
    let mut parts = inner.split(COMPOSITE_KEY_NAMESPACE).map(str::to_owned);
    let object_type = parts.next().unwrap_or_default();
    Ok((object_type, parts.collect()))
}

fn check_part(part: &str) -> Result<(), ContractError> {
    if part.contains(COMPOSITE_KEY_NAMESPACE) || part.contains(MAX_UNICODE_RUNE) {
        return Err(ContractError::bad_request(format!(
            "composite key part '{}' must not contain U+0000 or U+10FFFF",
            part.escape_default()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_splits_like_fabric() {
        let key = create_composite_key("color~name", &["blue", "asset1"]).unwrap();
        assert_eq!(key, "\u{0}color~name\u{0}blue\u{0}asset1\u{0}");
        let (object_type, attrs) = split_composite_key(&key).unwrap();
        assert_eq!(object_type, "color~name");
        assert_eq!(attrs, vec!["blue".to_string(), "asset1".to_string()]);
        assert!(create_composite_key("t", &["a\u{0}b"]).is_err());
        assert!(split_composite_key("plain").is_err());
        assert_eq!(create_composite_key("t", &[]).unwrap(), "\u{0}t\u{0}");
    }
}
