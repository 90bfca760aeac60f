//! `asset-ledger-v2`: the second version of the example upgrade pair; it changes the state
//! format and migrates every record of `asset-ledger-v1` when its definition commits.
//!
//! Each asset is stored under `asset/<id>` as JSON `{"currency":…,"id":…,"owner":…,"value":…}`
//! (state schema 2; `currency` is new, v1 records get [`DEFAULT_CURRENCY`]). v2 also reads a
//! record still in v1's `owner,value` text, as if migrated, and writes it back as JSON when it
//! changes it. A live upgrade needs this: v1 keeps writing its format for transactions endorsed
//! before the switch (valid within the grace window) and for the share of traffic a canary
//! leaves on it, after the migration has run.
//!
//! Functions: the four of v1 with the same arguments (`CreateAsset(id, owner, value)`,
//! `ReadAsset(id)` now returning JSON, `TransferAsset(id, new_owner)`, `ListAssets()`) and the
//! new `SetCurrency(id, currency)`. The interface is therefore compatible with v1 (nothing
//! removed or changed), and the schema change comes with a migration.
//!
//! The migration (`migrate => migrate;`) rewrites every v1 record as JSON. It is idempotent:
//! records already in the v2 format are left alone, so running it again writes nothing. A
//! record in neither format fails it, naming the key; nothing is written then.

use cambium_sdk::{contract, Context, ContractError, FromJson, JsonError, JsonValue, ToJson};

/// The prefix of every asset key (as in v1).
pub const ASSET_PREFIX: &str = "asset/";
/// The end of the asset key range (`/` + 1 is `0`).
pub const ASSET_RANGE_END: &str = "asset0";
/// The currency of assets created without one, and of migrated v1 records.
pub const DEFAULT_CURRENCY: &str = "USD";
/// The event the migration sets; its payload is the number of records rewritten.
pub const MIGRATED_EVENT: &str = "AssetsMigrated";

/// One asset in the v2 format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The asset's ID.
    pub id: String,
    /// Its current owner.
    pub owner: String,
    /// Its value.
    pub value: i64,
    /// The currency of `value` (new in v2).
    pub currency: String,
}

impl ToJson for Asset {
    fn to_json(&self) -> JsonValue {
        JsonValue::object(vec![
            ("currency", self.currency.to_json()),
            ("id", self.id.to_json()),
            ("owner", self.owner.to_json()),
            ("value", self.value.to_json()),
        ])
    }
}

impl FromJson for Asset {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        Ok(Asset {
            id: value.field("id")?,
            owner: value.field("owner")?,
            value: value.field("value")?,
            currency: value.field("currency")?,
        })
    }
}

/// How a stored record reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Already in the v2 JSON format.
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
    if bytes.first() == Some(&b'{') {
        let json = JsonValue::parse(bytes).ok()?;
        return Asset::from_json(&json).ok().map(Stored::V2);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let (owner, value) = text.rsplit_once(',')?;
    if owner.is_empty() || owner.contains(',') || id.is_empty() {
        return None;
    }
    Some(Stored::V1 {
        owner: owner.to_string(),
        value: value.parse().ok()?,
    })
}

/// The state key of asset `id`.
pub fn asset_key(id: &str) -> String {
    format!("{}{}", ASSET_PREFIX, id)
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
    if ctx.get_state(&asset_key(&id))?.is_some() {
        return Err(ContractError::with_status(
            409,
            format!("the asset {} already exists", id),
        ));
    }
    let asset = Asset {
        id: id.clone(),
        owner,
        value,
        currency: DEFAULT_CURRENCY.to_string(),
    };
    ctx.put_json(&asset_key(&id), &asset)
}

fn read(ctx: &mut Context<'_>, id: String) -> Result<JsonValue, ContractError> {
    Ok(load(ctx, &id)?.to_json())
}

fn transfer(ctx: &mut Context<'_>, id: String, new_owner: String) -> Result<String, ContractError> {
    check_owner(&new_owner)?;
    let mut asset = load(ctx, &id)?;
    let previous = std::mem::replace(&mut asset.owner, new_owner);
    ctx.put_json(&asset_key(&id), &asset)?;
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
    ctx.put_json(&asset_key(&id), &asset)
}

fn list(ctx: &mut Context<'_>) -> Result<String, ContractError> {
    let ids: Vec<String> = ctx
        .range(ASSET_PREFIX, ASSET_RANGE_END)?
        .into_iter()
        .map(|(k, _)| k[ASSET_PREFIX.len()..].to_string())
        .collect();
    Ok(ids.join(","))
}

/// Rewrites every v1 record as v2 JSON; see the crate docs.
fn migrate(ctx: &mut Context<'_>, _from_version: String) -> Result<(), ContractError> {
    let mut rewritten = 0u64;
    for (key, bytes) in ctx.range(ASSET_PREFIX, ASSET_RANGE_END)? {
        let id = key[ASSET_PREFIX.len()..].to_string();
        match decode(&id, &bytes) {
            Some(Stored::V2(_)) => {}
            Some(Stored::V1 { owner, value }) => {
                let asset = Asset {
                    id,
                    owner,
                    value,
                    currency: DEFAULT_CURRENCY.to_string(),
                };
                ctx.put_json(&key, &asset)?;
                rewritten += 1;
            }
            None => {
                return Err(ContractError::new(format!(
                    "cannot migrate '{}': it holds '{}', neither v1's owner,value nor v2 JSON; fix or delete the record with the old version, then commit again",
                    key,
                    String::from_utf8_lossy(&bytes)
                )))
            }
        }
    }
    ctx.set_event(MIGRATED_EVENT, rewritten.to_string().as_bytes())
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
        assert_eq!(
            stub.state("asset/a2"),
            Some(&br#"{"currency":"USD","id":"a2","owner":"Brad","value":400}"#[..])
        );
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
