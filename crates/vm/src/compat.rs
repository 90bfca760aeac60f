//! The compatibility check between two versions of a contract, from their interface manifests.
//!
//! [`check`] lists, by function name:
//!
//! - **removed** functions (breaking: clients still call them);
//! - **changed** functions, whose arguments differ in count, name or type (breaking: existing
//!   clients send the old arguments);
//! - **added** functions (compatible);
//! - a **state schema** change: breaking when the new version has no `migrate` (it would read
//!   state written in the old format), compatible with a note when it has one.
//!
//! A version that adds a migration without changing the schema is noted too.

use std::fmt;

use serde::Serialize;

use crate::manifest::{ArgSig, FunctionSig, Manifest};

/// A function whose arguments changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedFunction {
    /// The function's name.
    pub name: String,
    /// Its arguments in the old version.
    pub old_args: Vec<ArgSig>,
    /// Its arguments in the new version.
    pub new_args: Vec<ArgSig>,
}

/// A change of the state schema version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaChange {
    /// The old version's schema.
    pub from: u32,
    /// The new version's schema.
    pub to: u32,
    /// Whether the new version declares a migration.
    pub migrate: bool,
}

/// What changed between two manifests; see the module docs for what is breaking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompatReport {
    /// Functions of the old version missing from the new one.
    pub removed: Vec<FunctionSig>,
    /// Functions in both whose arguments differ.
    pub changed: Vec<ChangedFunction>,
    /// Functions only the new version has.
    pub added: Vec<FunctionSig>,
    /// The schema change, if the schema version differs.
    pub schema: Option<SchemaChange>,
    /// Whether the new version declares a migration.
    pub new_has_migrate: bool,
    /// Whether anything here is breaking (also in the JSON form, for scripts).
    pub breaking: bool,
}

/// Compares the interface of `old` with that of `new`.
pub fn check(old: &Manifest, new: &Manifest) -> CompatReport {
    let find = |m: &Manifest, name: &str| m.functions.iter().find(|f| f.name == name).cloned();
    let removed: Vec<FunctionSig> = old
        .functions
        .iter()
        .filter(|f| find(new, &f.name).is_none())
        .cloned()
        .collect();
    let added: Vec<FunctionSig> = new
        .functions
        .iter()
        .filter(|f| find(old, &f.name).is_none())
        .cloned()
        .collect();
    let changed: Vec<ChangedFunction> = old
        .functions
        .iter()
        .filter_map(|f| {
            let n = find(new, &f.name)?;
            (n.args != f.args).then(|| ChangedFunction {
                name: f.name.clone(),
                old_args: f.args.clone(),
                new_args: n.args,
            })
        })
        .collect();
    let schema = (old.schema_version != new.schema_version).then_some(SchemaChange {
        from: old.schema_version,
        to: new.schema_version,
        migrate: new.migrate,
    });
    let mut report = CompatReport {
        removed,
        changed,
        added,
        schema,
        new_has_migrate: new.migrate,
        breaking: false,
    };
    report.breaking = !report.breaking_changes().is_empty();
    report
}

fn signature(args: &[ArgSig]) -> String {
    let list: Vec<String> = args
        .iter()
        .map(|a| format!("{}:{}", a.name, a.ty))
        .collect();
    format!("({})", list.join(", "))
}

impl CompatReport {
    /// Whether upgrading from the old version to the new one can break clients or state.
    pub fn is_breaking(&self) -> bool {
        self.breaking
    }

    /// One sentence per breaking change, in a stable order (removed, changed, schema).
    pub fn breaking_changes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.removed {
            out.push(format!(
                "function {} is removed (clients still calling it will fail)",
                f.name
            ));
        }
        for c in &self.changed {
            out.push(format!(
                "function {} changes its arguments from {} to {}",
                c.name,
                signature(&c.old_args),
                signature(&c.new_args)
            ));
        }
        if let Some(s) = self.schema.as_ref().filter(|s| !s.migrate) {
            out.push(format!(
                "the state schema changes from {} to {} without a migration (declare `migrate => handler;` in contract!)",
                s.from, s.to
            ));
        }
        out
    }

    /// Compatible changes worth knowing: added functions, a schema change with its migration.
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.added {
            out.push(format!(
                "function {}{} is added",
                f.name,
                signature(&f.args)
            ));
        }
        match &self.schema {
            Some(s) if s.migrate => out.push(format!(
                "the state schema changes from {} to {}; the new version's migration rewrites it when the definition commits",
                s.from, s.to
            )),
            None if self.new_has_migrate => out.push(
                "the new version declares a migration; it runs when the definition commits".into(),
            ),
            _ => {}
        }
        out
    }
}

/// A readable table: one row per change, then the verdict.
impl fmt::Display for CompatReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows: Vec<(&str, String, String)> = Vec::new();
        for r in &self.removed {
            rows.push((
                "BREAKING",
                "removed".into(),
                format!("{}{}", r.name, signature(&r.args)),
            ));
        }
        for c in &self.changed {
            rows.push((
                "BREAKING",
                "changed".into(),
                format!(
                    "{}{} -> {}",
                    c.name,
                    signature(&c.old_args),
                    signature(&c.new_args)
                ),
            ));
        }
        if let Some(s) = &self.schema {
            let detail = if s.migrate {
                format!("{} -> {} (with migrate)", s.from, s.to)
            } else {
                format!("{} -> {} (no migrate)", s.from, s.to)
            };
            rows.push((
                if s.migrate { "ok" } else { "BREAKING" },
                "schema".into(),
                detail,
            ));
        } else if self.new_has_migrate {
            rows.push((
                "ok",
                "migrate".into(),
                "the new version has a migration".into(),
            ));
        }
        for a in &self.added {
            rows.push((
                "ok",
                "added".into(),
                format!("{}{}", a.name, signature(&a.args)),
            ));
        }
        if rows.is_empty() {
            return writeln!(f, "no interface changes: compatible");
        }
        let w0 = rows
            .iter()
            .map(|r| r.0.len())
            .max()
            .unwrap_or(0)
            .max("VERDICT".len());
        let w1 = rows
            .iter()
            .map(|r| r.1.len())
            .max()
            .unwrap_or(0)
            .max("CHANGE".len());
        writeln!(f, "{:w0$}  {:w1$}  DETAIL", "VERDICT", "CHANGE")?;
        for (verdict, change, detail) in &rows {
            writeln!(f, "{verdict:w0$}  {change:w1$}  {detail}")?;
        }
        let count = self.breaking_changes().len();
        if count == 0 {
            writeln!(f, "compatible")
        } else {
            writeln!(f, "breaking: {count} change(s)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text).unwrap()
    }

    const V1: &str = "cambium-manifest 1\nschema 1\nfn Create id:string value:i64\nfn Read id:string\nfn Drop id:string\n";

    /// Checks the report of V1 → `new`: the breaking sentences and the notes.
    fn check_against_v1(new: &str, breaking: &[&str], notes: &[&str]) {
        let report = check(&manifest(V1), &manifest(new));
        assert_eq!(report.breaking_changes(), breaking, "{report}");
        assert_eq!(report.notes(), notes, "{report}");
        assert_eq!(report.is_breaking(), !breaking.is_empty());
    }

    #[test]
    fn the_same_interface_is_compatible() {
        check_against_v1(V1, &[], &[]);
        assert_eq!(
            check(&manifest(V1), &manifest(V1)).to_string(),
            "no interface changes: compatible\n"
        );
    }

    #[test]
    fn removed_and_changed_functions_are_breaking() {
        check_against_v1(
            "cambium-manifest 1\nschema 1\nfn Create id:string value:string\nfn Read key:string\nfn Drop id:string extra:i64\n",
            &[
                "function Create changes its arguments from (id:string, value:i64) to (id:string, value:string)",
                "function Read changes its arguments from (id:string) to (key:string)",
                "function Drop changes its arguments from (id:string) to (id:string, extra:i64)",
            ],
            &[],
        );
        check_against_v1(
            "cambium-manifest 1\nschema 1\nfn Create id:string value:i64\nfn Read id:string\n",
            &["function Drop is removed (clients still calling it will fail)"],
            &[],
        );
    }

    #[test]
    fn added_functions_are_compatible() {
        check_against_v1(
            &format!("{V1}fn List\n"),
            &[],
            &["function List() is added"],
        );
    }

    #[test]
    fn a_schema_change_needs_a_migration() {
        let bumped = V1.replace("schema 1", "schema 2");
        check_against_v1(
            &bumped,
            &["the state schema changes from 1 to 2 without a migration (declare `migrate => handler;` in contract!)"],
            &[],
        );
        check_against_v1(
            &bumped.replace("schema 2\n", "schema 2\nmigrate\n"),
            &[],
            &["the state schema changes from 1 to 2; the new version's migration rewrites it when the definition commits"],
        );
        check_against_v1(
            &V1.replace("schema 1\n", "schema 1\nmigrate\n"),
            &[],
            &["the new version declares a migration; it runs when the definition commits"],
        );
    }

    #[test]
    fn the_table_and_json_name_every_change() {
        let new = "cambium-manifest 1\nschema 2\nfn Create id:string\nfn Read id:string\nfn List\n";
        let report = check(&manifest(V1), &manifest(new));
        let table = report.to_string();
        assert_eq!(
            table,
            "VERDICT   CHANGE   DETAIL\n\
             BREAKING  removed  Drop(id:string)\n\
             BREAKING  changed  Create(id:string, value:i64) -> (id:string)\n\
             BREAKING  schema   1 -> 2 (no migrate)\n\
             ok        added    List()\n\
             breaking: 3 change(s)\n"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["breaking"], true);
        assert_eq!(json["removed"][0]["name"], "Drop");
        assert_eq!(json["changed"][0]["new_args"][0]["type"], "string");
        assert_eq!(json["schema"]["migrate"], false);
    }
}
