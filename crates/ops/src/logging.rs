//! Logging: the process's `tracing` subscriber, human-readable or JSON lines, behind a filter
//! that `/logspec` can change while the node runs.
//!
//! A spec is a `tracing_subscriber::EnvFilter` directive list: `info`,
//! `cambium_peer=debug,info`, `warn,cambium_orderer::raft=trace`.

use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

use crate::error::{OpsError, Result};

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Human,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, spans).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "human" | "text" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format '{other}'; use 'human' or 'json'"
            )),
        }
    }
}

/// Parses a spec, naming the problem if it does not parse.
fn parse(spec: &str) -> Result<EnvFilter> {
    let trimmed = spec.trim();
    if trimmed.is_empty() {
        return Err(OpsError::LogSpec {
            spec: spec.to_owned(),
            reason: "it is empty".to_owned(),
        });
    }
    EnvFilter::builder()
        .parse(trimmed)
        .map_err(|e| OpsError::LogSpec {
            spec: spec.to_owned(),
            reason: e.to_string(),
        })
}

/// The filter of a subscriber, readable and replaceable at runtime. Cheap to clone.
#[derive(Clone)]
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
    spec: Arc<Mutex<String>>,
}

impl std::fmt::Debug for LogControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogControl")
            .field("spec", &self.spec())
            .finish()
    }
}

/// The reloadable filter layer [`LogControl::new`] returns, to put first on a
/// [`Registry`].
pub type FilterLayer = reload::Layer<EnvFilter, Registry>;

impl LogControl {
    /// A filter layer starting at `spec` and its control. Put the layer directly on a
    /// [`Registry`] (as [`init_logging`] does); the control works while that subscriber lives.
    pub fn new(spec: &str) -> Result<(FilterLayer, LogControl)> {
        let (layer, handle) = reload::Layer::new(parse(spec)?);
        let control = LogControl {
            handle,
            spec: Arc::new(Mutex::new(spec.trim().to_owned())),
        };
        Ok((layer, control))
    }

    /// The spec in force.
    pub fn spec(&self) -> String {
        self.spec
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the filter; a spec that does not parse changes nothing.
    pub fn set_spec(&self, spec: &str) -> Result<()> {
        let filter = parse(spec)?;
        let mut current = self
            .spec
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.handle.reload(filter).map_err(|e| {
            OpsError::Logging(format!(
                "the log filter cannot be changed ({e}); the subscriber is gone"
            ))
        })?;
        *current = spec.trim().to_owned();
        tracing::info!(spec = %current, "log spec changed");
        Ok(())
    }
}

/// Installs the process's subscriber: `format` lines on standard error (human lines are
/// coloured only on a terminal), filtered by `spec` (the `RUST_LOG` syntax). Returns the control `/logspec` uses. Fails if a subscriber is
/// already installed.
pub fn init_logging(format: LogFormat, spec: &str) -> Result<LogControl> {
    let (filter, control) = LogControl::new(spec)?;
    let output = match format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init()
        .map_err(|e| {
            OpsError::Logging(format!(
                "cannot install the log subscriber ({e}); install logging once per process"
            ))
        })?;
    Ok(control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_changes_take_effect_and_bad_specs_change_nothing() {
        let (layer, control) = LogControl::new("warn").unwrap();
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            assert!(!tracing::enabled!(tracing::Level::INFO));
            control.set_spec("cambium_ops=debug,info").unwrap();
            assert_eq!(control.spec(), "cambium_ops=debug,info");
            assert!(
                tracing::enabled!(tracing::Level::DEBUG),
                "this crate at debug"
            );
            let err = control.set_spec("info,[unclosed").unwrap_err().to_string();
            assert!(err.contains("not valid"), "{err}");
            assert!(control.set_spec("  ").is_err());
            assert_eq!(control.spec(), "cambium_ops=debug,info");
        });
        assert!("json".parse::<LogFormat>().is_ok());
        assert!("xml".parse::<LogFormat>().unwrap_err().contains("json"));
    }
}
