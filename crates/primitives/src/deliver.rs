//! Deliver requests: which blocks a client asks for (`orderer.SeekInfo`), used by the orderer's
//! and the peer's Deliver services and by the Gateway's chaincode events.

/// A block position in a Deliver request (`orderer.SeekPosition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeekPosition {
    /// The newest block: height − 1.
    Newest,
    /// The genesis block.
    Oldest,
    /// The block with this number.
    Specified(u64),
    /// The next block to be committed: the current height.
    NextCommit,
}

/// Whether to wait for blocks that do not exist yet (`SeekInfo.SeekBehavior`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SeekBehavior {
    /// Wait until the block is written.
    #[default]
    BlockUntilReady,
    /// Answer NOT_FOUND at once.
    FailIfNotReady,
}

/// How strictly delivery treats errors (`SeekInfo.SeekErrorResponse`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SeekErrorResponse {
    /// Stop on any error.
    #[default]
    Strict,
    /// Deliver what can be delivered.
    BestEffort,
}

/// What each delivered block contains (`SeekInfo.SeekContentType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SeekContentType {
    /// Whole blocks.
    #[default]
    Block,
    /// Headers and signatures only.
    HeaderWithSig,
}

/// A Deliver request: the range `[start, stop]` and how to serve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeekInfo {
    /// The first block to send.
    pub start: SeekPosition,
    /// The last block to send; Gateway clients use `Specified(2^53 − 1)` for "never stop".
    pub stop: SeekPosition,
    /// Whether to wait for future blocks.
    pub behavior: SeekBehavior,
    /// How strictly to treat errors.
    pub error_response: SeekErrorResponse,
    /// Whole blocks or headers only.
    pub content_type: SeekContentType,
}

impl SeekInfo {
    /// A request for blocks from `start` to `stop`, waiting for future blocks, strict, whole
    /// blocks: what Fabric's clients send.
    pub fn new(start: SeekPosition, stop: SeekPosition) -> Self {
        SeekInfo {
            start,
            stop,
            behavior: SeekBehavior::default(),
            error_response: SeekErrorResponse::default(),
            content_type: SeekContentType::default(),
        }
    }
}
