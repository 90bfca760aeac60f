//! Append-only block files: each record is a header (magic, length, CRC-32) and a payload
//! holding the `common.Block` bytes and the ledger's commit section.
//!
//! ```text
//! record  = magic "CBK1" | len: u32 BE | crc32(len ‖ payload): u32 BE | payload
//! payload = block_len: u32 BE | block bytes | commit section (codec::encode_tx_records)
//! ```
//!
//! A record is written with one positioned write and, by default, made durable with `fdatasync`
//! before the append returns. Without that (`sync_each` off) appends only reach the page cache
//! and [`BlockFiles::sync`] makes every record so far durable with one `fdatasync`; the ledger
//! calls it before the index may point at a record. A file rolls over once it passes the size
//! limit: the full file is synced first, so only the last file can ever hold an unsynced tail,
//! and a new file is made durable together with its directory entry.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::codec::{Dec, Enc};
use crate::error::{LedgerError, Result};

/// Magic bytes that start every record.
pub(crate) const MAGIC: [u8; 4] = *b"CBK1";
/// Bytes of the record header.
pub(crate) const HEADER_LEN: u64 = 12;
/// Refuse records above this size (Fabric's own message limit is 100 MB).
pub(crate) const MAX_RECORD_LEN: u64 = 512 * 1024 * 1024;

/// The name of block file `n`.
pub(crate) fn file_name(n: u32) -> String {
    format!("blockfile_{n:06}")
}

/// CRC-32 over the length field and the payload, so a damaged length is caught too.
fn record_crc(len: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_be_bytes());
    h.update(payload);
    h.finalize()
}

/// Builds the bytes of one record.
pub(crate) fn encode_record(block: &[u8], commit_section: &[u8]) -> Vec<u8> {
    let mut payload = Enc::default();
    payload.bytes(block).raw(commit_section);
    let payload = payload.buf;
    let len = u32::try_from(payload.len()).expect("a block record is below 4 GiB");
    let mut out = Vec::with_capacity(payload.len() + HEADER_LEN as usize);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&record_crc(len, &payload).to_be_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Splits a payload into the block bytes and the commit section.
pub(crate) fn split_payload(payload: &[u8]) -> Result<(&[u8], &[u8])> {
    let mut dec = Dec::new(payload, "block record payload");
    let block = dec.bytes()?;
    let rest = &payload[4 + block.len()..];
    Ok((block, rest))
}

/// How a scan of one file ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    /// Every byte belongs to a whole record.
    Clean {
        /// The file length.
        len: u64,
    },
    /// The file ends with a partial or damaged record: a write that was torn by a crash.
    TornTail {
        /// Offset where the last whole record ends.
        valid_len: u64,
        /// The file length before truncation.
        file_len: u64,
        /// What was found there.
        reason: String,
    },
}

/// Reads every record of `path` in order, calling `on_record(offset, record_len, payload)`.
///
/// A damaged record followed by more data is corruption and fails with the file and offset;
/// a damaged record that runs to the end of the file is reported as a torn tail. With
/// `unsynced_tail` (the last file of a ledger that syncs records in groups) any damaged record
/// starts a torn tail: the page cache may have written an unsynced tail out of order, so a
/// hole can be followed by whole records that were never synced either.
pub(crate) fn scan_file(
    path: &Path,
    unsynced_tail: bool,
    mut on_record: impl FnMut(u64, u64, &[u8]) -> Result<()>,
) -> Result<ScanEnd> {
    let data = std::fs::read(path).map_err(|e| LedgerError::io("reading block file", path, e))?;
    let file_len = data.len() as u64;
    let mut offset = 0u64;
    loop {
        let rest = &data[offset as usize..];
        if rest.is_empty() {
            return Ok(ScanEnd::Clean { len: file_len });
        }
        let torn = |reason: &str| ScanEnd::TornTail {
            valid_len: offset,
            file_len,
            reason: reason.to_string(),
        };
        if rest.iter().all(|b| *b == 0) {
            return Ok(torn("only zero bytes follow the last whole record"));
        }
        if rest.len() < HEADER_LEN as usize {
            return Ok(torn("a record header is cut short"));
        }
        let corrupt = |reason: String| LedgerError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason,
        };
        if rest[..4] != MAGIC {
            if unsynced_tail {
                return Ok(torn("a record without its magic bytes (an unsynced tail)"));
            }
            return Err(corrupt(format!(
                "expected record magic {:02x?}, found {:02x?}",
                MAGIC,
                &rest[..4]
            )));
        }
        let len = u32::from_be_bytes(rest[4..8].try_into().expect("4 bytes"));
        let crc = u32::from_be_bytes(rest[8..12].try_into().expect("4 bytes"));
        let end = HEADER_LEN + u64::from(len);
        if end > rest.len() as u64 {
            return Ok(torn("the last record is shorter than its length field"));
        }
        let payload = &rest[HEADER_LEN as usize..end as usize];
        if record_crc(len, payload) != crc {
            if end == rest.len() as u64 || unsynced_tail {
                return Ok(torn("the last record fails its checksum"));
            }
            return Err(corrupt(format!(
                "record of {len} bytes fails its CRC-32 checksum and more records follow it"
            )));
        }
        on_record(offset, end, payload)?;
        offset += end;
    }
}

/// Makes a directory entry durable (new or truncated files).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LedgerError::io("syncing directory", dir, e))
}

/// Test hook: makes the next write fail like a full disk. Only tests set these flags.
#[derive(Debug, Default)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Faults {
    /// Fail the next append to a block file after writing half the record.
    pub(crate) block_write: std::sync::atomic::AtomicBool,
    /// Fail redb's next `sync_data` (the commit of the state transaction).
    pub(crate) store_sync: std::sync::atomic::AtomicBool,
    /// Fail the next [`BlockFiles::sync`].
    pub(crate) block_sync: std::sync::atomic::AtomicBool,
}

/// The block files of one ledger: a writer at the tail and cached read handles.
#[derive(Debug)]
pub(crate) struct BlockFiles {
    dir: PathBuf,
    max_file_len: u64,
    readers: Mutex<BTreeMap<u32, Arc<File>>>,
    /// The file being appended to and its durable length.
    tail: Mutex<Tail>,
    /// `fdatasync` every append before it returns (otherwise [`BlockFiles::sync`] does).
    sync_each: bool,
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) faults: Arc<Faults>,
}

#[derive(Debug)]
struct Tail {
    file_no: u32,
    /// Shared so that [`BlockFiles::sync`] can fsync without holding the tail lock.
    file: Arc<File>,
    len: u64,
    /// How much of `file` is known durable.
    synced_len: u64,
}

impl BlockFiles {
    /// Opens the block directory for reading only: nothing is created, truncated or written
    /// (an append through it fails). `file_no` and `len` are the scan's tail.
    pub(crate) fn open_read_only(
        dir: &Path,
        file_no: u32,
        len: u64,
        max_file_len: u64,
    ) -> Result<Self> {
        let path = dir.join(file_name(file_no));
        let file =
            File::open(&path).map_err(|e| LedgerError::io("opening block file", &path, e))?;
        let tail = Tail {
            file_no,
            file: Arc::new(file),
            len,
            synced_len: len,
        };
        Ok(BlockFiles::with_tail(
            dir,
            tail,
            max_file_len,
            false,
            Arc::default(),
        ))
    }

    fn with_tail(
        dir: &Path,
        tail: Tail,
        max_file_len: u64,
        sync_each: bool,
        faults: Arc<Faults>,
    ) -> Self {
        BlockFiles {
            dir: dir.to_path_buf(),
            max_file_len,
            readers: Mutex::new(BTreeMap::new()),
            tail: Mutex::new(tail),
            sync_each,
            faults,
        }
    }

    /// Opens the block directory for appending after `file_no` at `len` (both from the scan);
    /// `sync_each` makes every append durable before it returns.
    pub(crate) fn open(
        dir: &Path,
        file_no: u32,
        len: u64,
        max_file_len: u64,
        sync_each: bool,
        faults: Arc<Faults>,
    ) -> Result<Self> {
        let path = dir.join(file_name(file_no));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| LedgerError::io("opening block file", &path, e))?;
        let tail = Tail {
            file_no,
            file: Arc::new(file),
            len,
            // Without a sync per append, what a crashed process left in the page cache
            // may not be on disk yet: the first sync covers the whole file.
            synced_len: if sync_each { len } else { 0 },
        };
        Ok(BlockFiles::with_tail(
            dir,
            tail,
            max_file_len,
            sync_each,
            faults,
        ))
    }

    /// The path of block file `n`.
    pub(crate) fn path(&self, n: u32) -> PathBuf {
        self.dir.join(file_name(n))
    }

    /// Appends one record and, with `sync_each`, makes it durable; returns `(file, offset, len)`.
    ///
    /// On failure the file is cut back to its previous length, so a failed append leaves no
    /// trace; if even that fails the error says so and the caller must stop writing.
    pub(crate) fn append(&self, record: &[u8]) -> Result<(u32, u64, u64)> {
        let mut tail = self.tail.lock().expect("block file lock");
        if tail.len > 0 && tail.len + record.len() as u64 > self.max_file_len {
            if tail.synced_len < tail.len {
                // Only the last file may end in an unsynced tail (recovery relies on it).
                let path = self.path(tail.file_no);
                tail.file
                    .sync_data()
                    .map_err(|e| LedgerError::io("syncing full block file", &path, e))?;
            }
            let next = tail.file_no + 1;
            let path = self.path(next);
            let file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| LedgerError::io("creating block file", &path, e))?;
            sync_dir(&self.dir)?;
            *tail = Tail {
                file_no: next,
                file: Arc::new(file),
                len: 0,
                synced_len: 0,
            };
        }
        let offset = tail.len;
        let path = self.path(tail.file_no);
        let written = self.write_and_sync(&tail.file, offset, record);
        if let Err(source) = written {
            // Leave no half record behind: the next append must start at the same offset.
            tail.file
                .set_len(offset)
                .and_then(|()| tail.file.sync_data())
                .map_err(|e| {
                    LedgerError::Poisoned(format!(
                    "could not cut {} back to {offset} bytes after a failed append ({source}): {e}",
                    path.display()
                ))
                })?;
            return Err(LedgerError::io("appending a block to", path, source));
        }
        tail.len = offset + record.len() as u64;
        if self.sync_each {
            tail.synced_len = tail.len;
        }
        Ok((tail.file_no, offset, record.len() as u64))
    }

    /// Makes every record appended so far durable with one `fdatasync` of the last file (full
    /// files were synced when they rolled over). The fsync runs without the tail lock, so
    /// appends go on meanwhile. A failure leaves the records unsynced: the caller must not
    /// count them durable.
    pub(crate) fn sync(&self) -> Result<()> {
        let (file_no, file, target) = {
            let tail = self.tail.lock().expect("block file lock");
            if tail.synced_len >= tail.len {
                return Ok(());
            }
            (tail.file_no, tail.file.clone(), tail.len)
        };
        #[cfg(test)]
        if self
            .faults
            .block_sync
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(LedgerError::io(
                "syncing block file",
                self.path(file_no),
                std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "injected: no space left on device",
                ),
            ));
        }
        file.sync_data()
            .map_err(|e| LedgerError::io("syncing block file", self.path(file_no), e))?;
        let mut tail = self.tail.lock().expect("block file lock");
        if tail.file_no == file_no && tail.synced_len < target {
            tail.synced_len = target;
        }
        Ok(())
    }

    fn write_and_sync(&self, file: &File, offset: u64, record: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if self
            .faults
            .block_write
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            file.write_all_at(&record[..record.len() / 2], offset)?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "injected: no space left on device",
            ));
        }
        file.write_all_at(record, offset)?;
        if self.sync_each {
            file.sync_data()?;
        }
        Ok(())
    }

    fn reader(&self, file_no: u32) -> Result<Arc<File>> {
        let mut readers = self.readers.lock().expect("reader cache lock");
        if let Some(f) = readers.get(&file_no) {
            return Ok(f.clone());
        }
        let path = self.path(file_no);
        let f = Arc::new(
            File::open(&path).map_err(|e| LedgerError::io("opening block file", &path, e))?,
        );
        readers.insert(file_no, f.clone());
        Ok(f)
    }

    /// Reads and checks the record at `offset` of `file_no`, returning its payload.
    pub(crate) fn read_payload(&self, file_no: u32, offset: u64, len: u64) -> Result<Vec<u8>> {
        let path = self.path(file_no);
        if !(HEADER_LEN..=MAX_RECORD_LEN).contains(&len) {
            return Err(LedgerError::Inconsistent(format!(
                "the index gives a record length of {len} bytes at {} offset {offset}",
                path.display()
            )));
        }
        let file = self.reader(file_no)?;
        let mut buf = vec![0u8; len as usize];
        file.read_exact_at(&mut buf, offset)
            .map_err(|e| LedgerError::io("reading a block from", &path, e))?;
        let corrupt = |reason: String| LedgerError::Corrupt {
            path: path.clone(),
            offset,
            reason,
        };
        if buf[..4] != MAGIC {
            return Err(corrupt("record magic missing".into()));
        }
        let plen = u32::from_be_bytes(buf[4..8].try_into().expect("4 bytes"));
        let crc = u32::from_be_bytes(buf[8..12].try_into().expect("4 bytes"));
        if u64::from(plen) + HEADER_LEN != len {
            return Err(corrupt(format!(
                "record length field {plen} does not match the index ({len} with header)"
            )));
        }
        let payload = buf.split_off(HEADER_LEN as usize);
        if record_crc(plen, &payload) != crc {
            return Err(corrupt("record fails its CRC-32 checksum".into()));
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(path: &Path) -> (Vec<(u64, u64, Vec<u8>)>, ScanEnd) {
        let mut out = Vec::new();
        let end = scan_file(path, false, |o, l, p| {
            out.push((o, l, p.to_vec()));
            Ok(())
        })
        .unwrap();
        (out, end)
    }

    #[test]
    fn append_then_scan_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let files = BlockFiles::open(dir.path(), 0, 0, 1 << 20, true, Arc::default()).unwrap();
        let r1 = encode_record(b"block-one", b"c1");
        let r2 = encode_record(b"block-two", b"");
        let (f1, o1, l1) = files.append(&r1).unwrap();
        let (f2, o2, l2) = files.append(&r2).unwrap();
        assert_eq!((f1, o1, f2, o2), (0, 0, 0, l1));
        let p = files.read_payload(f2, o2, l2).unwrap();
        assert_eq!(split_payload(&p).unwrap(), (&b"block-two"[..], &b""[..]));
        let (recs, end) = records(&files.path(0));
        assert_eq!(recs.len(), 2);
        assert_eq!(end, ScanEnd::Clean { len: l1 + l2 });
        assert_eq!(
            split_payload(&recs[0].2).unwrap(),
            (&b"block-one"[..], &b"c1"[..])
        );
    }

    #[test]
    fn rolls_over_to_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = BlockFiles::open(dir.path(), 0, 0, 40, true, Arc::default()).unwrap();
        let rec = encode_record(&[7u8; 20], b"");
        assert_eq!(files.append(&rec).unwrap().0, 0);
        assert_eq!(files.append(&rec).unwrap(), (1, 0, rec.len() as u64));
        assert!(files.path(1).exists());
    }

    #[test]
    fn torn_tails_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(0));
        let rec = encode_record(b"whole", b"");
        for cut in 1..rec.len() {
            let mut data = rec.clone();
            data.extend_from_slice(&rec[..cut]);
            std::fs::write(&path, &data).unwrap();
            let (recs, end) = records(&path);
            assert_eq!(recs.len(), 1, "cut at {cut}");
            assert!(
                matches!(end, ScanEnd::TornTail { valid_len, .. } if valid_len == rec.len() as u64),
                "cut at {cut}: {end:?}"
            );
        }
        // A whole-length record full of zeros (file extended, data never written).
        let mut data = rec.clone();
        data.extend_from_slice(&vec![0u8; rec.len()]);
        std::fs::write(&path, &data).unwrap();
        assert!(matches!(records(&path).1, ScanEnd::TornTail { .. }));
    }

    #[test]
    fn a_bad_checksum_mid_file_is_corruption_with_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file_name(0));
        let rec = encode_record(b"payload", b"");
        let mut data = [rec.clone(), rec.clone(), rec.clone()].concat();
        let flip = rec.len() + HEADER_LEN as usize + 5;
        data[flip] ^= 0xff;
        std::fs::write(&path, &data).unwrap();
        let err = scan_file(&path, false, |_, _, _| Ok(())).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, LedgerError::Corrupt { offset, .. } if offset == rec.len() as u64),
            "{msg}"
        );
        assert!(
            msg.contains("blockfile_000000") && msg.contains(&format!("offset {}", rec.len())),
            "{msg}"
        );
        assert!(msg.contains("Restore"), "{msg}");
    }

    #[test]
    fn a_failed_append_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let files = BlockFiles::open(dir.path(), 0, 0, 1 << 20, true, Arc::default()).unwrap();
        let rec = encode_record(b"first", b"");
        files.append(&rec).unwrap();
        files
            .faults
            .block_write
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let err = files.append(&encode_record(b"second", b"")).unwrap_err();
        assert!(err.to_string().contains("no space left"), "{err}");
        assert_eq!(
            std::fs::metadata(files.path(0)).unwrap().len(),
            rec.len() as u64
        );
        let (f, o, _) = files.append(&rec).unwrap();
        assert_eq!((f, o), (0, rec.len() as u64));
    }
}
