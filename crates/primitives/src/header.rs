//! Header-level domain types: payload kinds and timestamps.

use std::fmt;

/// What kind of message a payload carries (`common.HeaderType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeaderType {
    /// An opaque message.
    Message,
    /// A channel configuration (block-embedded config envelope).
    Config,
    /// A signed configuration update.
    ConfigUpdate,
    /// An endorsed chaincode transaction.
    EndorserTransaction,
    /// An orderer-internal transaction (deprecated in Fabric).
    OrdererTransaction,
    /// A Deliver request carrying a `SeekInfo`.
    DeliverSeekInfo,
    /// A chaincode package.
    ChaincodePackage,
}

impl HeaderType {
    /// Every header type, in numeric order.
    pub const ALL: &'static [HeaderType] = &[
        HeaderType::Message,
        HeaderType::Config,
        HeaderType::ConfigUpdate,
        HeaderType::EndorserTransaction,
        HeaderType::OrdererTransaction,
        HeaderType::DeliverSeekInfo,
        HeaderType::ChaincodePackage,
    ];

    /// Fabric's numeric value, as carried in `ChannelHeader.type`.
    pub fn as_i32(self) -> i32 {
        match self {
            HeaderType::Message => 0,
            HeaderType::Config => 1,
            HeaderType::ConfigUpdate => 2,
            HeaderType::EndorserTransaction => 3,
            HeaderType::OrdererTransaction => 4,
            HeaderType::DeliverSeekInfo => 5,
            HeaderType::ChaincodePackage => 6,
        }
    }

    /// The header type with this numeric value, or `None` for values Fabric does not define.
    pub fn from_i32(value: i32) -> Option<Self> {
        HeaderType::ALL
            .iter()
            .copied()
            .find(|t| t.as_i32() == value)
    }

    /// Fabric's name, e.g. `ENDORSER_TRANSACTION`.
    pub fn name(self) -> &'static str {
        match self {
            HeaderType::Message => "MESSAGE",
            HeaderType::Config => "CONFIG",
            HeaderType::ConfigUpdate => "CONFIG_UPDATE",
            HeaderType::EndorserTransaction => "ENDORSER_TRANSACTION",
            HeaderType::OrdererTransaction => "ORDERER_TRANSACTION",
            HeaderType::DeliverSeekInfo => "DELIVER_SEEK_INFO",
            HeaderType::ChaincodePackage => "CHAINCODE_PACKAGE",
        }
    }
}

impl fmt::Display for HeaderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A point in time as protobuf carries it: seconds and nanoseconds since the Unix epoch.
///
/// Kept as the two integers it arrives as so that nothing is lost or rounded; contracts read
/// the transaction time from here, never from a clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Nanoseconds within the second, `0..1_000_000_000` when well-formed.
    pub nanos: i32,
}

impl Timestamp {
    /// Milliseconds since the Unix epoch (nanoseconds truncated).
    pub fn as_millis(self) -> i64 {
        self.seconds * 1000 + i64::from(self.nanos) / 1_000_000
    }

    /// The timestamp for milliseconds since the Unix epoch.
    pub fn from_millis(millis: i64) -> Self {
        Timestamp {
            seconds: millis.div_euclid(1000),
            nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_types_round_trip_and_match_fabric() {
        for &t in HeaderType::ALL {
            assert_eq!(HeaderType::from_i32(t.as_i32()), Some(t));
        }
        assert_eq!(HeaderType::EndorserTransaction.as_i32(), 3);
        assert_eq!(HeaderType::DeliverSeekInfo.as_i32(), 5);
        assert_eq!(HeaderType::from_i32(7), None);
        assert_eq!(HeaderType::from_i32(-1), None);
        assert_eq!(HeaderType::Config.to_string(), "CONFIG");
    }

    #[test]
    fn millis_round_trip_including_before_epoch() {
        for ms in [0, 1, 999, 1_700_000_000_123, -1, -1001] {
            let t = Timestamp::from_millis(ms);
            assert!((0..1_000_000_000).contains(&t.nanos), "{t:?}");
            assert_eq!(t.as_millis(), ms);
        }
    }
}
