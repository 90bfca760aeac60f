//! The byte encoding shared with the host for lists: a little-endian `u32` count, then each
//! item as a little-endian `u32` length followed by its bytes.

/// Encodes `items` as a list.
pub fn encode_list<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let total: usize = items.iter().map(|i| 4 + i.as_ref().len()).sum();
    let mut out = Vec::with_capacity(4 + total);
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for item in items {
        let item = item.as_ref();
        out.extend_from_slice(&(item.len() as u32).to_le_bytes());
        out.extend_from_slice(item);
    }
    out
}

/// Decodes a list; `None` if the bytes are not a well-formed list.
pub fn decode_list(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (count, mut rest) = take_u32(bytes)?;
    let mut items = Vec::with_capacity((count as usize).min(rest.len() / 4));
    for _ in 0..count {
        let (len, tail) = take_u32(rest)?;
        let len = len as usize;
        if tail.len() < len {
            return None;
        }
        items.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    if rest.is_empty() {
        Some(items)
    } else {
        None
    }
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    if bytes.len() < 4 {
        return None;
    }
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    Some((u32::from_le_bytes(word), &bytes[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let items: Vec<Vec<u8>> = vec![b"a".to_vec(), Vec::new(), b"xyz".to_vec()];
        let bytes = encode_list(&items);
        assert_eq!(decode_list(&bytes), Some(items));
        assert_eq!(decode_list(&bytes[..bytes.len() - 1]), None);
        assert_eq!(decode_list(&[1, 0, 0]), None);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode_list(&trailing), None);
    }
}
