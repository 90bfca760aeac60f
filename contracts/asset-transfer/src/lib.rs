//! `asset-transfer`: the behaviour of Hyperledger Fabric's asset-transfer-basic sample as a
//! Cambium contract.
//!
//! Assets are stored as JSON under their ID with fields in alphabetical order (`AppraisedValue`,
//! `Color`, `ID`, `Owner`, `Size`), like the Go sample, so the bytes match across languages.
//! `TransferAsset` also sets a `TransferAsset` event whose payload is the updated asset.

use cambium_sdk::{contract, Context, ContractError, FromJson, JsonError, JsonValue, ToJson};

/// One asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The asset's ID, also its state key.
    pub id: String,
    /// Its colour.
    pub color: String,
    /// Its size.
    pub size: i64,
    /// Its current owner.
    pub owner: String,
    /// Its appraised value.
    pub appraised_value: i64,
}

impl ToJson for Asset {
    fn to_json(&self) -> JsonValue {
        JsonValue::object(vec![
            ("AppraisedValue", self.appraised_value.to_json()),
            ("Color", self.color.to_json()),
            ("ID", self.id.to_json()),
            ("Owner", self.owner.to_json()),
            ("Size", self.size.to_json()),
        ])
    }
}

impl FromJson for Asset {
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        Ok(Asset {
            id: value.field("ID")?,
            color: value.field("Color")?,
            size: value.field("Size")?,
            owner: value.field("Owner")?,
            appraised_value: value.field("AppraisedValue")?,
        })
    }
}

fn asset(id: &str, color: &str, size: i64, owner: &str, appraised_value: i64) -> Asset {
    Asset {
        id: id.into(),
        color: color.into(),
        size,
        owner: owner.into(),
        appraised_value,
    }
}

/// The assets `InitLedger` creates (the same six as Fabric's sample).
pub fn initial_assets() -> Vec<Asset> {
    vec![
        asset("asset1", "blue", 5, "Tomoko", 300),
        asset("asset2", "red", 5, "Brad", 400),
        asset("asset3", "green", 10, "Jin Soo", 500),
        asset("asset4", "yellow", 10, "Max", 600),
        asset("asset5", "black", 15, "Adriana", 700),
        asset("asset6", "white", 15, "Michel", 800),
    ]
}

fn init_ledger(ctx: &mut Context<'_>) -> Result<(), ContractError> {
    for a in initial_assets() {
        ctx.put_json(&a.id, &a)?;
    }
    Ok(())
}

fn create_asset(
    ctx: &mut Context<'_>,
    id: String,
    color: String,
    size: i64,
    owner: String,
    appraised_value: i64,
) -> Result<(), ContractError> {
    if asset_exists(ctx, id.clone())? {
        return Err(ContractError::new(format!(
            "the asset {} already exists",
            id
        )));
    }
    ctx.put_json(
        &id,
        &Asset {
            id: id.clone(),
            color,
            size,
            owner,
            appraised_value,
        },
    )
}

fn read(ctx: &mut Context<'_>, id: &str) -> Result<Asset, ContractError> {
    ctx.get_json::<Asset>(id)?
        .ok_or_else(|| ContractError::new(format!("the asset {} does not exist", id)))
}

fn read_asset(ctx: &mut Context<'_>, id: String) -> Result<JsonValue, ContractError> {
    Ok(read(ctx, &id)?.to_json())
}

fn update_asset(
    ctx: &mut Context<'_>,
    id: String,
    color: String,
    size: i64,
    owner: String,
    appraised_value: i64,
) -> Result<(), ContractError> {
    if !asset_exists(ctx, id.clone())? {
        return Err(ContractError::new(format!(
            "the asset {} does not exist",
            id
        )));
    }
    ctx.put_json(
        &id,
        &Asset {
            id: id.clone(),
            color,
            size,
            owner,
            appraised_value,
        },
    )
}

fn delete_asset(ctx: &mut Context<'_>, id: String) -> Result<(), ContractError> {
    if !asset_exists(ctx, id.clone())? {
        return Err(ContractError::new(format!(
            "the asset {} does not exist",
            id
        )));
    }
    ctx.del_state(&id)
}

fn asset_exists(ctx: &mut Context<'_>, id: String) -> Result<bool, ContractError> {
    Ok(ctx.get_state(&id)?.is_some())
}

fn transfer_asset(
    ctx: &mut Context<'_>,
    id: String,
    new_owner: String,
) -> Result<String, ContractError> {
    let mut a = read(ctx, &id)?;
    let old_owner = std::mem::replace(&mut a.owner, new_owner);
    let bytes = a.to_json().to_bytes();
    ctx.put_state(&id, &bytes)?;
    ctx.set_event("TransferAsset", &bytes)?;
    Ok(old_owner)
}

fn get_all_assets(ctx: &mut Context<'_>) -> Result<JsonValue, ContractError> {
    let mut assets = Vec::new();
    for (key, bytes) in ctx.range("", "")? {
        let value = JsonValue::parse(&bytes).map_err(|e| {
            ContractError::new(format!("the value of '{}' is not JSON: {}", key, e))
        })?;
        assets.push(Asset::from_json(&value)?.to_json());
    }
    Ok(JsonValue::Array(assets))
}

contract! {
    schema_version: 1;
    fn InitLedger() => init_ledger;
    fn CreateAsset(id: String, color: String, size: i64, owner: String, appraisedValue: i64) => create_asset;
    fn ReadAsset(id: String) => read_asset;
    fn UpdateAsset(id: String, color: String, size: i64, owner: String, appraisedValue: i64) => update_asset;
    fn DeleteAsset(id: String) => delete_asset;
    fn AssetExists(id: String) => asset_exists;
    fn TransferAsset(id: String, newOwner: String) => transfer_asset;
    fn GetAllAssets() => get_all_assets;
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_sdk::MockStub;

    #[test]
    fn behaves_like_the_fabric_sample() {
        let mut stub = MockStub::new();
        assert_eq!(stub.invoke(dispatch, "InitLedger", &[]).status, 200);
        let read = stub.invoke(dispatch, "ReadAsset", &["asset1"]);
        assert_eq!(
            String::from_utf8(read.payload).unwrap(),
            r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#
        );
        let dup = stub.invoke(dispatch, "CreateAsset", &["asset1", "red", "1", "X", "2"]);
        assert_eq!(
            (dup.status, dup.message.as_str()),
            (500, "the asset asset1 already exists")
        );
        assert_eq!(
            stub.invoke(dispatch, "TransferAsset", &["asset1", "Alice"])
                .payload,
            b"Tomoko"
        );
        assert_eq!(
            stub.events().last().map(|e| e.name.as_str()),
            Some("TransferAsset")
        );
        assert_eq!(
            stub.invoke(dispatch, "DeleteAsset", &["asset2"]).status,
            200
        );
        assert_eq!(
            stub.invoke(dispatch, "AssetExists", &["asset2"]).payload,
            b"false"
        );
        let all = JsonValue::parse(&stub.invoke(dispatch, "GetAllAssets", &[]).payload).unwrap();
        match all {
            JsonValue::Array(items) => assert_eq!(items.len(), 5),
            other => panic!("expected an array, got {}", other),
        }
    }
}
