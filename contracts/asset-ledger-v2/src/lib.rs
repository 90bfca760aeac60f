//! `asset-ledger-v2`: the second version of the example upgrade pair; it changes the state
//! format and migrates every record of `asset-ledger-v1` when its definition commits.
//!
//! Each asset is stored under `asset/<id>` in a compact hand-written encoding (state schema 2):
//! the tag byte [`V2_TAG`] (`0xFE`, which never begins UTF-8 text, so no v1 record can be
//! mistaken for one), the three capital letters of the currency, the value in decimal, a
//! comma, and the owner: `\xFEUSD300,Tomoko`. `currency` is new; v1 records get
//! [`DEFAULT_CURRENCY`]. The ID is not stored again: the key holds it. `ReadAsset` answers
//! JSON, `{"currency":…,"id":…,"owner":…,"value":…}`, formatted by hand.
//!
//! Why no JSON in the state and no JSON library: the example shows a format change with a
//! migration, and it should not make every call dearer than v1's. Encoding and decoding are a
//! few byte copies with one allocation each. An earlier v2 stored JSON through the SDK's JSON
//! tree: its `CreateAsset` used 2.3 times v1's fuel, `TransferAsset` 3 times, the migration
//! 5 times as much per record, and its values were 74 bytes where v1's are 10. Now v2 uses
//! about v1's fuel per call and 4 bytes more per value (checked by `cambium-node`'s
//! `contract_cost` test).
//!
//! v2 also reads a record still in v1's `owner,value` text, as if migrated, and writes it back
//! in its own format when it changes it. A live upgrade needs this: v1 keeps writing its format
//! for transactions endorsed before the switch (valid within the grace window) and for the
//! share of traffic a canary leaves on it, after the migration has run.
//!
//! Functions: the four of v1 with the same arguments (`CreateAsset(id, owner, value)`,
//! `ReadAsset(id)` now returning JSON, `TransferAsset(id, new_owner)`, `ListAssets()`) and the
//! new `SetCurrency(id, currency)`. The interface is therefore compatible with v1 (nothing
//! removed or changed), and the schema change comes with a migration.
//!
//! The migration (`migrate => migrate;`) rewrites every v1 record in the v2 format, reading the
//! namespace a page at a time. It is idempotent: records already in the v2 format are left
//! alone, so running it again writes nothing. A record in neither format fails it, naming the
//! key; nothing is written then.

use cambium_sdk::{contract, Context, ContractError};

/// The prefix of every asset key (as in v1).
pub const ASSET_PREFIX: &str = "asset/";
/// The end of the asset key range (`/` + 1 is `0`).
pub const ASSET_RANGE_END: &str = "asset0";
/// The currency of assets created without one, and of migrated v1 records.
pub const DEFAULT_CURRENCY: &str = "USD";
/// The event the migration sets; its payload is the number of records rewritten.
pub const MIGRATED_EVENT: &str = "AssetsMigrated";
/// The first byte of every v2 record; it cannot begin UTF-8 text, which v1 records are.
pub const V2_TAG: u8 = 0xFE;
/// Records the migration reads per range page: the host's largest page (`MAX_RANGE_RESULTS`),
/// so a migration of thousands of records makes few range calls and records few range
/// queries for the validator to re-check.
pub const MIGRATION_PAGE: u32 = 1000;

/// One asset in the v2 format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The asset's ID.
    pub id: String,
    /// Its current owner.
    pub owner: String,
    /// Its value.
    pub value: i64,
    /// The currency of `value` (new in v2): three capital letters.
    pub currency: String,
}

impl Asset {
    /// The stored form: [`V2_TAG`], currency, value, `,`, owner (see the crate docs).
    pub fn encode(&self) -> Vec<u8> {
        encode_record(&self.currency, self.value, &self.owner)
    }

    /// The JSON `ReadAsset` answers, keys in alphabetical order:
    /// `{"currency":"USD","id":"a1","owner":"Tomoko","value":300}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(48 + self.id.len() + self.owner.len());
        out.push_str("{\"currency\":");
        push_json_string(&mut out, &self.currency);
        out.push_str(",\"id\":");
        push_json_string(&mut out, &self.id);
        out.push_str(",\"owner\":");
        push_json_string(&mut out, &self.owner);
        out.push_str(",\"value\":");
        push_i64(&mut out, self.value);
        out.push('}');
        out
    }
}

/// Encodes a v2 record without building an [`Asset`]: one allocation.
fn encode_record(currency: &str, value: i64, owner: &str) -> Vec<u8> {
    let mut buf = [0u8; 20];
    let digits = decimal(value, &mut buf);
    let mut out = Vec::with_capacity(1 + currency.len() + digits.len() + 1 + owner.len());
    out.push(V2_TAG);
    out.extend_from_slice(currency.as_bytes());
    out.extend_from_slice(digits.as_bytes());
    out.push(b',');
    out.extend_from_slice(owner.as_bytes());
    out
}

/// `value` in decimal, written into the end of `buf` (no formatting machinery: a few
/// divisions).
fn decimal(value: i64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    let mut n = value.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        // 19 digits at most (i64::MIN), so there is room for the sign.
        at -= 1;
        buf[at] = b'-';
    }
    // Only ASCII digits and '-' were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// Appends `value` in decimal.
fn push_i64(out: &mut String, value: i64) {
    let mut buf = [0u8; 20];
    out.push_str(decimal(value, &mut buf));
}

/// Appends `text` as a JSON string, escaping quotes, backslashes and control characters.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses a decimal i64 (an optional `-`, then digits); `None` on anything else.
fn parse_i64(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// How a stored record reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Already in the v2 format.
    V2(Asset),
    /// Still in v1's `owner,value` text: the owner and the value.
    V1 {
        /// The owner.
        owner: String,
        /// The value.
        value: i64,
    },
}

/// Classifies the stored bytes of asset `id`; `None` if they are in neither format.
pub fn decode(id: &str, bytes: &[u8]) -> Option<Stored> {
    if id.is_empty() {
        return None;
    }
    if bytes.first() == Some(&V2_TAG) {
        let currency = bytes.get(1..4)?;
        if !currency.iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        let rest = &bytes[4..];
        let comma = rest.iter().position(|&b| b == b',')?;
        let owner = std::str::from_utf8(&rest[comma + 1..]).ok()?;
        if owner.is_empty() {
            return None;
        }
        return Some(Stored::V2(Asset {
            id: id.to_string(),
            owner: owner.to_string(),
            value: parse_i64(&rest[..comma])?,
            // Checked above: three ASCII capitals.
            currency: String::from_utf8(currency.to_vec()).ok()?,
        }));
    }
    let (owner, value) = v1_fields(bytes)?;
    Some(Stored::V1 {
        owner: owner.to_string(),
        value,
    })
}

/// The owner and value of a record in v1's `owner,value` text, borrowed; `None` if it is not
/// one (an empty owner, a comma in it, or a value that is not a decimal i64).
fn v1_fields(bytes: &[u8]) -> Option<(&str, i64)> {
    let comma = bytes.iter().rposition(|&b| b == b',')?;
    let owner = std::str::from_utf8(&bytes[..comma]).ok()?;
    if owner.is_empty() || owner.contains(',') {
        return None;
    }
    Some((owner, parse_i64(&bytes[comma + 1..])?))
}

/// The state key of asset `id`.
pub fn asset_key(id: &str) -> String {
    let mut key = String::with_capacity(ASSET_PREFIX.len() + id.len());
    key.push_str(ASSET_PREFIX);
    key.push_str(id);
    key
}

fn load(ctx: &mut Context<'_>, id: &str) -> Result<Asset, ContractError> {
    let bytes = ctx
        .get_state(&asset_key(id))?
        .ok_or_else(|| ContractError::not_found(format!("the asset {} does not exist", id)))?;
    match decode(id, &bytes) {
        Some(Stored::V2(asset)) => Ok(asset),
        Some(Stored::V1 { owner, value }) => Ok(Asset {
            id: id.to_string(),
            owner,
            value,
            currency: DEFAULT_CURRENCY.to_string(),
        }),
        None => Err(ContractError::new(format!(
            "the asset {} is not a valid record",
            id
        ))),
    }
}

fn check_owner(owner: &str) -> Result<(), ContractError> {
    if owner.is_empty() {
        return Err(ContractError::bad_request("the owner must not be empty"));
    }
    Ok(())
}

fn create(
    ctx: &mut Context<'_>,
    id: String,
    owner: String,
    value: i64,
) -> Result<(), ContractError> {
    if id.is_empty() {
        return Err(ContractError::bad_request("the asset ID must not be empty"));
    }
    check_owner(&owner)?;
    let key = asset_key(&id);
    if ctx.get_state(&key)?.is_some() {
        return Err(ContractError::with_status(
            409,
            format!("the asset {} already exists", id),
        ));
    }
    ctx.put_state(&key, &encode_record(DEFAULT_CURRENCY, value, &owner))
}

fn read(ctx: &mut Context<'_>, id: String) -> Result<String, ContractError> {
    Ok(load(ctx, &id)?.to_json())
}

fn transfer(ctx: &mut Context<'_>, id: String, new_owner: String) -> Result<String, ContractError> {
    check_owner(&new_owner)?;
    let mut asset = load(ctx, &id)?;
    let previous = std::mem::replace(&mut asset.owner, new_owner);
    ctx.put_state(&asset_key(&id), &asset.encode())?;
    Ok(previous)
}

fn set_currency(ctx: &mut Context<'_>, id: String, currency: String) -> Result<(), ContractError> {
    let valid = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase());
    if !valid {
        return Err(ContractError::bad_request(format!(
            "currency '{}' must be three capital letters, e.g. EUR",
            currency
        )));
    }
    let mut asset = load(ctx, &id)?;
    asset.currency = currency;
    ctx.put_state(&asset_key(&id), &asset.encode())
}

fn list(ctx: &mut Context<'_>) -> Result<String, ContractError> {
    let ids: Vec<String> = ctx
        .range(ASSET_PREFIX, ASSET_RANGE_END)?
        .into_iter()
        .map(|(k, _)| k[ASSET_PREFIX.len()..].to_string())
        .collect();
    Ok(ids.join(","))
}

/// Rewrites every v1 record in the v2 format, a page at a time; see the crate docs.
fn migrate(ctx: &mut Context<'_>, _from_version: String) -> Result<(), ContractError> {
    let mut rewritten = 0u64;
    let mut bookmark = String::new();
    loop {
        let page = ctx.range_page(ASSET_PREFIX, ASSET_RANGE_END, MIGRATION_PAGE, &bookmark)?;
        for (key, bytes) in &page.entries {
            if bytes.first() == Some(&V2_TAG) {
                continue;
            }
            // What `decode` would answer for a v1 record, without copying its owner.
            let id = &key[ASSET_PREFIX.len()..];
            match v1_fields(bytes).filter(|_| !id.is_empty()) {
                Some((owner, value)) => {
                    ctx.put_state(key, &encode_record(DEFAULT_CURRENCY, value, owner))?;
                    rewritten += 1;
                }
                None => {
                    return Err(ContractError::new(format!(
                        "cannot migrate '{}': it holds '{}', neither v1's owner,value nor a v2 record; fix or delete the record with the old version, then commit again",
                        key,
                        String::from_utf8_lossy(bytes)
                    )))
                }
            }
        }
        if page.bookmark.is_empty() {
            break;
        }
        bookmark = page.bookmark;
    }
    let mut count = String::new();
    push_i64(&mut count, rewritten as i64);
    ctx.set_event(MIGRATED_EVENT, count.as_bytes())
}

contract! {
    schema_version: 2;
    migrate => migrate;
    fn CreateAsset(id: String, owner: String, value: i64) => create;
    fn ReadAsset(id: String) => read;
    fn TransferAsset(id: String, new_owner: String) => transfer;
    fn ListAssets() => list;
    fn SetCurrency(id: String, currency: String) => set_currency;
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_sdk::MockStub;

    /// A mock ledger with three assets created by v1.
    fn v1_ledger() -> MockStub {
        let mut stub = MockStub::new();
        for (id, owner, value) in [
            ("a1", "Tomoko", "300"),
            ("a2", "Brad", "400"),
            ("a3", "Jin", "500"),
        ] {
            let r = stub.invoke(
                asset_ledger_v1::dispatch,
                "CreateAsset",
                &[id, owner, value],
            );
            assert_eq!(r.status, 200, "{}", r.message);
        }
        stub
    }

    fn migration() -> cambium_sdk::Migrate {
        MIGRATION.expect("v2 declares a migration")
    }

    #[test]
    fn the_migration_rewrites_every_v1_record() {
        let mut stub = v1_ledger();
        // Before the migration v2 reads the old format as if migrated, without writing it.
        let early = stub.invoke(dispatch, "ReadAsset", &["a1"]);
        assert_eq!(early.status, 200, "{}", early.message);
        assert_eq!(
            early.payload,
            br#"{"currency":"USD","id":"a1","owner":"Tomoko","value":300}"#
        );
        assert_eq!(stub.state("asset/a1"), Some(&b"Tomoko,300"[..]));

        let done = stub.migrate(migration(), "1.0");
        assert_eq!(done.status, 200, "{}", done.message);
        assert_eq!(stub.state("asset/a2"), Some(&b"\xFEUSD400,Brad"[..]));
        assert_eq!(stub.events().last().unwrap().payload, b"3");
        assert_eq!(
            stub.invoke(dispatch, "ReadAsset", &["a1"]).payload,
            br#"{"currency":"USD","id":"a1","owner":"Tomoko","value":300}"#
        );
        assert_eq!(
            stub.invoke(dispatch, "ListAssets", &[]).payload,
            b"a1,a2,a3"
        );
        assert_eq!(
            stub.invoke(dispatch, "SetCurrency", &["a3", "EUR"]).status,
            200
        );
        assert_eq!(
            stub.invoke(dispatch, "TransferAsset", &["a3", "Max"])
                .payload,
            b"Jin"
        );
        assert!(stub
            .invoke(dispatch, "ReadAsset", &["a3"])
            .payload
            .ends_with(br#""owner":"Max","value":500}"#));
    }

    #[test]
    fn running_the_migration_again_changes_nothing() {
        let mut stub = v1_ledger();
        assert_eq!(stub.migrate(migration(), "1.0").status, 200);
        assert_eq!(
            stub.invoke(dispatch, "SetCurrency", &["a1", "JPY"]).status,
            200
        );
        let before: Vec<_> = stub
            .keys()
            .into_iter()
            .map(|k| (k.clone(), stub.state(&k).map(<[u8]>::to_vec)))
            .collect();
        let again = stub.migrate(migration(), "2.0");
        assert_eq!(again.status, 200, "{}", again.message);
        assert_eq!(stub.events().last().unwrap().payload, b"0");
        let after: Vec<_> = stub
            .keys()
            .into_iter()
            .map(|k| (k.clone(), stub.state(&k).map(<[u8]>::to_vec)))
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn a_mixed_ledger_migrates_only_the_old_records() {
        let mut stub = v1_ledger();
        assert_eq!(
            stub.invoke(dispatch, "CreateAsset", &["b1", "Ana", "7"])
                .status,
            200
        );
        assert_eq!(stub.migrate(migration(), "1.0").status, 200);
        assert_eq!(stub.events().last().unwrap().payload, b"3");
    }

    #[test]
    fn a_bad_record_fails_the_migration_and_nothing_is_written() {
        let mut stub = v1_ledger();
        stub.seed_state("asset/a9", b"garbage");
        let failed = stub.migrate(migration(), "1.0");
        assert_eq!(failed.status, 500);
        assert!(
            failed.message.contains("cannot migrate 'asset/a9'"),
            "{}",
            failed.message
        );
        assert_eq!(stub.state("asset/a1"), Some(&b"Tomoko,300"[..]));
    }

    #[test]
    fn the_manifest_declares_the_migration_and_schema_2() {
        let text = manifest();
        assert!(
            text.starts_with("cambium-manifest 1\nschema 2\nmigrate\n"),
            "{}",
            text
        );
        assert!(
            text.contains("fn CreateAsset id:string owner:string value:i64\n"),
            "{}",
            text
        );
        assert!(
            text.contains("fn SetCurrency id:string currency:string\n"),
            "{}",
            text
        );
        assert_eq!(stub_bad_currency().status, 400);
    }

    #[test]
    fn records_round_trip_and_json_is_escaped() {
        for (owner, value, currency) in [
            ("Tomoko", 300, "USD"),
            ("a,b \"q\" \\ \n", -42, "EUR"),
            ("\u{1}x", i64::MIN, "JPY"),
            ("Zoë", i64::MAX, "GBP"),
        ] {
            let asset = Asset {
                id: "k".into(),
                owner: owner.into(),
                value,
                currency: currency.into(),
            };
            assert_eq!(
                decode("k", &asset.encode()),
                Some(Stored::V2(asset.clone()))
            );
        }
        let odd = Asset {
            id: "i\"d".into(),
            owner: "a\\b\n\u{1}".into(),
            value: -7,
            currency: "EUR".into(),
        };
        assert_eq!(
            odd.to_json(),
            r#"{"currency":"EUR","id":"i\"d","owner":"a\\b\n\u0001","value":-7}"#
        );
        // v1 text, including owners that look like v2 fields, stays v1.
        assert_eq!(
            decode("k", b"USD5,10"),
            Some(Stored::V1 {
                owner: "USD5".into(),
                value: 10
            })
        );
        for bad in [
            &b"\xFEusd5,x"[..],
            b"\xFEUSD5,",
            b"\xFEUSDx,o",
            b"\xFEUS",
            b"no-comma",
            b",5",
            b"o,5x",
        ] {
            assert_eq!(decode("k", bad), None, "{:?}", bad);
        }
        assert_eq!(decode("", b"o,5"), None);
    }

    #[test]
    fn a_migration_over_several_pages_rewrites_them_all() {
        let mut stub = MockStub::new();
        let n = MIGRATION_PAGE as usize * 2 + 3;
        for i in 0..n {
            stub.seed_state(
                &format!("asset/r{:05}", i),
                format!("O{},{}", i, i).as_bytes(),
            );
        }
        let done = stub.migrate(migration(), "1.0");
        assert_eq!(done.status, 200, "{}", done.message);
        assert_eq!(
            stub.events().last().unwrap().payload,
            n.to_string().as_bytes()
        );
        let last = stub
            .state(&format!("asset/r{:05}", n - 1))
            .unwrap()
            .to_vec();
        let mut expected = vec![V2_TAG];
        expected.extend_from_slice(format!("USD{},O{}", n - 1, n - 1).as_bytes());
        assert_eq!(last, expected);
    }

    fn stub_bad_currency() -> cambium_sdk::Response {
        let mut stub = MockStub::new();
        assert_eq!(
            stub.invoke(dispatch, "CreateAsset", &["a", "o", "1"])
                .status,
            200
        );
        stub.invoke(dispatch, "SetCurrency", &["a", "euro"])
    }
}
