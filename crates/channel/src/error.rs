//! The error type of channel configuration: reading YAML, building and decoding config trees,
//! and evaluating policies through a config.

use std::path::PathBuf;

use cambium_msp::policy::PolicyError;
use cambium_msp::MspError;
use cambium_wire::WireError;

/// What went wrong with a channel configuration.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A file named by the configuration could not be read.
    #[error(
        "cannot read {path}: {source}; paths in the channel YAML are relative to the YAML file"
    )]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
    /// The channel YAML is not valid: a syntax error, an unknown key or a wrongly typed value.
    #[error("{file}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Yaml {
        /// The YAML file (or `<input>`).
        file: String,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// What was wrong and what is expected.
        message: String,
    },
    /// A policy of the configuration cannot be used: its rule does not parse, it names an MSP
    /// that is not in the channel, or its type is unknown.
    #[error("policy {path}: {problem}")]
    BadPolicy {
        /// The policy's path, e.g. `/Channel/Application/Org1MSP/Endorsement`.
        path: String,
        /// What is wrong (for rule syntax errors, with the column in the rule).
        problem: String,
    },
    /// A part of the configuration is invalid.
    #[error("{what}: {problem}")]
    Invalid {
        /// Where, e.g. `/Channel/Orderer/BatchSize` or `organisation Org1MSP`.
        what: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// An organisation's MSP cannot be loaded or built.
    #[error("organisation {org}: {source}")]
    Msp {
        /// The organisation (group name).
        org: String,
        /// What the MSP layer reported.
        #[source]
        source: MspError,
    },
    /// Bytes that should hold a config block or config envelope do not.
    #[error("{what} is malformed: {source}")]
    Wire {
        /// What was being decoded, e.g. "the config block".
        what: String,
        /// What the decoder reported.
        #[source]
        source: WireError,
    },
    /// A block that is not a config block.
    #[error("not a config block: {problem}")]
    NotConfigBlock {
        /// Why.
        problem: String,
    },
    /// A policy evaluated through the config failed or does not exist.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A config update cannot be computed or does not apply to the current config.
    #[error("config update rejected: {problem}")]
    Update {
        /// What was wrong and what to do.
        problem: String,
    },
    /// A config update's signatures do not satisfy the `mod_policy` of an element it changes
    /// (Fabric's orderer answers FORBIDDEN).
    #[error("config update rejected: {problem}")]
    UpdateNotAuthorized {
        /// Which element and policy, and what to do.
        problem: String,
    },
}

impl ChannelError {
    /// A [`ChannelError::Invalid`].
    pub(crate) fn invalid(what: impl Into<String>, problem: impl Into<String>) -> ChannelError {
        ChannelError::Invalid {
            what: what.into(),
            problem: problem.into(),
        }
    }

    /// A [`ChannelError::Wire`] mapper.
    pub(crate) fn wire(what: &str) -> impl FnOnce(WireError) -> ChannelError + '_ {
        move |source| ChannelError::Wire {
            what: what.to_owned(),
            source,
        }
    }
}

/// Result alias for [`ChannelError`].
pub type Result<T, E = ChannelError> = std::result::Result<T, E>;
