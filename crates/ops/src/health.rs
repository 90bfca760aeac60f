//! Health checks: components register a [`HealthChecker`]; `/healthz` runs them all and
//! reports the ones that failed with their reasons, as Fabric's `healthz` handler does.

use std::sync::{Arc, RwLock};

use serde::Serialize;

/// One component's health check (a ledger, the connection to the orderers, …).
pub trait HealthChecker: Send + Sync + 'static {
    /// The component's name as `/healthz` reports it, e.g. `ledger:mychannel`.
    fn component(&self) -> String;

    /// `Ok` when healthy, else the reason, saying what is wrong and what to do. Checks read
    /// state the node keeps up to date; they must return quickly.
    fn check(&self) -> Result<(), String>;
}

/// A check given as a name and a closure.
struct FnChecker<F> {
    component: String,
    check: F,
}

impl<F> HealthChecker for FnChecker<F>
where
    F: Fn() -> Result<(), String> + Send + Sync + 'static,
{
    fn component(&self) -> String {
        self.component.clone()
    }

    fn check(&self) -> Result<(), String> {
        (self.check)()
    }
}

/// A failed check as `/healthz` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailedCheck {
    /// The component.
    pub component: String,
    /// Why it is unhealthy.
    pub reason: String,
}

/// The outcome of running every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// The checks that failed, in registration order; empty when healthy.
    pub failed_checks: Vec<FailedCheck>,
}

impl HealthReport {
    /// Whether every check passed.
    pub fn is_ok(&self) -> bool {
        self.failed_checks.is_empty()
    }
}

/// The registered checks of a node. Cheap to share; checks can be added while serving (for
/// example when the node joins a channel).
#[derive(Clone, Default)]
pub struct HealthRegistry {
    checkers: Arc<RwLock<Vec<Arc<dyn HealthChecker>>>>,
}

impl std::fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("components", &self.components())
            .finish()
    }
}

impl HealthRegistry {
    /// An empty registry (healthy).
    pub fn new() -> HealthRegistry {
        HealthRegistry::default()
    }

    /// Adds a check.
    pub fn register(&self, checker: Arc<dyn HealthChecker>) {
        self.checkers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(checker);
    }

    /// Adds a check given as a component name and a closure.
    pub fn register_fn<F>(&self, component: &str, check: F)
    where
        F: Fn() -> Result<(), String> + Send + Sync + 'static,
    {
        self.register(Arc::new(FnChecker {
            component: component.to_owned(),
            check,
        }));
    }

    /// The registered components, in registration order.
    pub fn components(&self) -> Vec<String> {
        self.snapshot().iter().map(|c| c.component()).collect()
    }

    fn snapshot(&self) -> Vec<Arc<dyn HealthChecker>> {
        self.checkers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Runs every check.
    pub fn run(&self) -> HealthReport {
        let failed_checks = self
            .snapshot()
            .iter()
            .filter_map(|c| {
                c.check().err().map(|reason| FailedCheck {
                    component: c.component(),
                    reason,
                })
            })
            .collect();
        HealthReport { failed_checks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn failed_checks_are_listed_in_order_with_reasons_and_recover() {
        let registry = HealthRegistry::new();
        assert!(registry.run().is_ok(), "no checks: healthy");
        let disk_ok = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&disk_ok);
        registry.register_fn("disk", move || {
            if flag.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("the disk is full; free space".to_owned())
            }
        });
        registry.register_fn("ledger", || Ok(()));
        registry.register_fn("orderer", || Err("unreachable".to_owned()));
        assert_eq!(registry.components(), ["disk", "ledger", "orderer"]);
        let report = registry.run();
        assert_eq!(
            report.failed_checks,
            [
                FailedCheck {
                    component: "disk".into(),
                    reason: "the disk is full; free space".into()
                },
                FailedCheck {
                    component: "orderer".into(),
                    reason: "unreachable".into()
                }
            ]
        );
        disk_ok.store(true, Ordering::SeqCst);
        assert_eq!(registry.run().failed_checks.len(), 1);
    }
}
