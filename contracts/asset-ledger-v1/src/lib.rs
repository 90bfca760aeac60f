//! `asset-ledger-v1`: the first version of the example upgrade pair (see `asset-ledger-v2`).
//!
//! Each asset is stored under `asset/<id>` as the text `owner,value` (state schema 1).
//! Functions: `CreateAsset(id, owner, value)`, `ReadAsset(id)` (returns `owner,value`),
//! `TransferAsset(id, new_owner)` (returns the previous owner) and `ListAssets()` (the IDs,
//! comma-separated).

use cambium_sdk::{contract, Context, ContractError};

/// The prefix of every asset key.
pub const ASSET_PREFIX: &str = "asset/";
/// The end of the asset key range (`/` + 1 is `0`).
pub const ASSET_RANGE_END: &str = "asset0";

/// One asset in the v1 format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Its current owner (no commas).
    pub owner: String,
    /// Its value.
    pub value: i64,
}

impl Asset {
    /// The stored form, `owner,value`.
    pub fn encode(&self) -> String {
        format!("{},{}", self.owner, self.value)
    }

    /// Parses the stored form; `None` if it is not `owner,value`.
    pub fn decode(text: &str) -> Option<Asset> {
        let (owner, value) = text.rsplit_once(',')?;
        if owner.is_empty() || owner.contains(',') {
            return None;
        }
        Some(Asset {
            owner: owner.to_string(),
            value: value.parse().ok()?,
        })
    }
}

/// The state key of asset `id`.
pub fn asset_key(id: &str) -> String {
    format!("{}{}", ASSET_PREFIX, id)
}

fn check_owner(owner: &str) -> Result<(), ContractError> {
    if owner.is_empty() || owner.contains(',') {
        return Err(ContractError::bad_request(format!(
            "owner '{}' must be non-empty and contain no comma",
            owner
        )));
    }
    Ok(())
}

fn load(ctx: &mut Context<'_>, id: &str) -> Result<Asset, ContractError> {
    let text = ctx
        .get_string(&asset_key(id))?
        .ok_or_else(|| ContractError::not_found(format!("the asset {} does not exist", id)))?;
    Asset::decode(&text).ok_or_else(|| {
        ContractError::new(format!(
            "the asset {} holds '{}', not owner,value",
            id, text
        ))
    })
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
    ctx.put_state(&asset_key(&id), Asset { owner, value }.encode().as_bytes())
}

fn read(ctx: &mut Context<'_>, id: String) -> Result<String, ContractError> {
    Ok(load(ctx, &id)?.encode())
}

fn transfer(ctx: &mut Context<'_>, id: String, new_owner: String) -> Result<String, ContractError> {
    check_owner(&new_owner)?;
    let mut asset = load(ctx, &id)?;
    let previous = std::mem::replace(&mut asset.owner, new_owner);
    ctx.put_state(&asset_key(&id), asset.encode().as_bytes())?;
    Ok(previous)
}

fn list(ctx: &mut Context<'_>) -> Result<String, ContractError> {
    let ids: Vec<String> = ctx
        .range(ASSET_PREFIX, ASSET_RANGE_END)?
        .into_iter()
        .map(|(k, _)| k[ASSET_PREFIX.len()..].to_string())
        .collect();
    Ok(ids.join(","))
}

contract! {
    schema_version: 1;
    fn CreateAsset(id: String, owner: String, value: i64) => create;
    fn ReadAsset(id: String) => read;
    fn TransferAsset(id: String, new_owner: String) => transfer;
    fn ListAssets() => list;
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_sdk::MockStub;

    #[test]
    fn stores_owner_comma_value() {
        let mut stub = MockStub::new();
        let ok = stub.invoke(dispatch, "CreateAsset", &["a1", "Tomoko", "300"]);
        assert_eq!(ok.status, 200, "{}", ok.message);
        assert_eq!(stub.state("asset/a1"), Some(&b"Tomoko,300"[..]));
        assert_eq!(
            stub.invoke(dispatch, "TransferAsset", &["a1", "Max"])
                .payload,
            b"Tomoko"
        );
        assert_eq!(
            stub.invoke(dispatch, "ReadAsset", &["a1"]).payload,
            b"Max,300"
        );
        assert_eq!(
            stub.invoke(dispatch, "CreateAsset", &["a2", "Jin", "5"])
                .status,
            200
        );
        assert_eq!(stub.invoke(dispatch, "ListAssets", &[]).payload, b"a1,a2");
        assert!(MIGRATION.is_none());
    }

    #[test]
    fn bad_input_is_refused() {
        let mut stub = MockStub::new();
        assert_eq!(
            stub.invoke(dispatch, "CreateAsset", &["a1", "A,B", "1"])
                .status,
            400
        );
        assert_eq!(
            stub.invoke(dispatch, "CreateAsset", &["a1", "A", "x"])
                .status,
            400
        );
        assert_eq!(
            stub.invoke(dispatch, "CreateAsset", &["a1", "A", "1"])
                .status,
            200
        );
        assert_eq!(
            stub.invoke(dispatch, "CreateAsset", &["a1", "A", "1"])
                .status,
            409
        );
        assert_eq!(stub.invoke(dispatch, "ReadAsset", &["nope"]).status, 404);
        assert_eq!(Asset::decode("no-comma"), None);
        assert_eq!(
            Asset::decode("Al,7"),
            Some(Asset {
                owner: "Al".into(),
                value: 7
            })
        );
    }
}
