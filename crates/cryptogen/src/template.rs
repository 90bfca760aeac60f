//! The small subset of Go's `text/template` that cryptogen configs use: `{{.Name}}` substitutions.
//!
//! cryptogen renders host names, common names and SANS with Go templates such as
//! `{{.Prefix}}{{.Index}}` or `{{.Hostname}}.{{.Domain}}`. Configs in the wild only ever use plain
//! field references, so that is all this module accepts; anything else (pipelines, functions,
//! unknown fields) is an error that names the accepted variables.

/// Renders `input`, replacing each `{{ .Var }}` with the value of `Var` from `vars`.
///
/// On error returns a sentence describing the problem (the caller adds where in the config it is).
pub(crate) fn render(input: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else {
            return Err(format!(
                "template `{input}` has `{{{{` without a closing `}}}}`"
            ));
        };
        let action = after_open[..close].trim();
        let Some(name) = action.strip_prefix('.') else {
            return Err(unknown(input, action, vars));
        };
        match vars.iter().find(|(var, _)| *var == name) {
            Some((_, value)) => out.push_str(value),
            None => return Err(unknown(input, action, vars)),
        }
        rest = &after_open[close + 2..];
    }
    if rest.contains("}}") {
        return Err(format!(
            "template `{input}` has `}}}}` without an opening `{{{{`"
        ));
    }
    out.push_str(rest);
    Ok(out)
}

fn unknown(input: &str, action: &str, vars: &[(&str, &str)]) -> String {
    let accepted: Vec<String> = vars
        .iter()
        .map(|(var, _)| format!("{{{{.{var}}}}}"))
        .collect();
    format!(
        "template `{input}` uses `{{{{{action}}}}}`, which is not supported here; use {}",
        accepted.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::render;

    fn check(input: &str, expected: Result<&str, &str>) {
        let vars = [
            ("Hostname", "peer0"),
            ("Domain", "org1.example.com"),
            ("Index", "3"),
        ];
        let got = render(input, &vars);
        match expected {
            Ok(want) => assert_eq!(got.as_deref(), Ok(want), "input {input:?}"),
            Err(fragment) => {
                let err = got.expect_err(input);
                assert!(err.contains(fragment), "error {err:?} lacks {fragment:?}");
            }
        }
    }

    #[test]
    fn renders_field_references() {
        check("{{.Hostname}}.{{.Domain}}", Ok("peer0.org1.example.com"));
        check(
            "{{ .Hostname }}.alt.{{  .Domain}}",
            Ok("peer0.alt.org1.example.com"),
        );
        check("node{{.Index}}", Ok("node3"));
        check("plain.example.com", Ok("plain.example.com"));
        check("", Ok(""));
    }

    #[test]
    fn rejects_what_it_cannot_render() {
        check("{{.Nope}}", Err("uses `{{.Nope}}`"));
        check(
            "{{.Nope}}",
            Err("use {{.Hostname}}, {{.Domain}}, {{.Index}}"),
        );
        check("{{printf \"%d\" .Index}}", Err("not supported"));
        check("{{.Hostname", Err("without a closing"));
        check("x}}", Err("without an opening"));
    }
}
