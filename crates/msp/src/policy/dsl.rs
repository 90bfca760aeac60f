//! Fabric's signature policy language: parser, printer and MSP check.
//!
//! Grammar (as `policydsl.FromString` accepts it through govaluate):
//!
//! ```text
//! policy    := gate
//! gate      := AND '(' arg (',' arg)* ')' | OR '(' arg (',' arg)* ')'
//!            | OUTOF '(' threshold ',' arg (',' arg)* ')'
//! arg       := principal | gate
//! principal := a string in '…' or "…" of the form MSPID.ROLE, MSPID = [A-Za-z0-9.-]+,
//!              ROLE = member | admin | client | peer | orderer
//! threshold := a whole number, or a quoted whole number
//! ```
//!
//! Gate names are accepted in the spellings Fabric registers: `AND`/`And`/`and`,
//! `OR`/`Or`/`or`, `OUTOF`/`OutOf`/`outof`. Principals are not de-duplicated, and they are
//! numbered the way govaluate evaluates arguments: the principals of nested gates first (left
//! to right, depth first), then the gate's own principals. `OR('A.member', AND('B.member',
//! 'C.member'))` therefore gives `identities = [B, C, A]` and `Or(SignedBy(2), And(SignedBy(0),
//! SignedBy(1)))`, byte for byte what Fabric produces.

use cambium_primitives::{MspRole, Principal, SignaturePolicy, SignaturePolicyEnvelope};

use super::{PolicyError, Result};

/// The roles a principal may name, in the order error messages list them.
pub const ALLOWED_ROLES: [&str; 5] = ["member", "admin", "client", "peer", "orderer"];

/// Deepest nesting of gates the parser accepts (guards the stack against hostile input).
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    LParen,
    RParen,
    Comma,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Num(s) => s.clone(),
            Tok::LParen => "'('".to_owned(),
            Tok::RParen => "')'".to_owned(),
            Tok::Comma => "','".to_owned(),
            Tok::End => "the end of the policy".to_owned(),
        }
    }
}

fn syntax(column: usize, message: String) -> PolicyError {
    PolicyError::Syntax { column, message }
}

fn tokenize(input: &str) -> Result<Vec<(Tok, usize)>> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, col));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, col));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, col));
                i += 1;
            }
            '\'' | '"' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != c {
                    j += 1;
                }
                if j == chars.len() {
                    return Err(syntax(col, format!("string starting here is not closed; add the closing {c}")));
                }
                out.push((Tok::Str(chars[i + 1..j].iter().collect()), col));
                i = j + 1;
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '.') {
                    j += 1;
                }
                out.push((Tok::Num(chars[i..j].iter().collect()), col));
                i = j;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i;
                while j < chars.len() && (chars[j].is_alphanumeric() || matches!(chars[j], '_' | '.' | '-')) {
                    j += 1;
                }
                out.push((Tok::Ident(chars[i..j].iter().collect()), col));
                i = j;
            }
            other => {
                return Err(syntax(
                    col,
                    format!("unexpected character '{other}'; a policy looks like AND('Org1MSP.peer', 'Org2MSP.peer')"),
                ))
            }
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

#[derive(Debug)]
enum Node {
    Gate { n: u32, children: Vec<Node> },
    Principal(Principal),
}

#[derive(Clone, Copy, PartialEq)]
enum Gate {
    And,
    Or,
    OutOf,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &(Tok, usize) {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> (Tok, usize) {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn gate_name(name: &str, col: usize) -> Result<Gate> {
        match name {
            "AND" | "And" | "and" => Ok(Gate::And),
            "OR" | "Or" | "or" => Ok(Gate::Or),
            "OUTOF" | "OutOf" | "outof" => Ok(Gate::OutOf),
            other => {
                let lower = other.to_ascii_lowercase();
                if ["and", "or", "outof"].contains(&lower.as_str()) {
                    Err(syntax(
                        col,
                        format!("gate '{other}' is spelled in a case Fabric does not accept; write AND/And/and, OR/Or/or or OUTOF/OutOf/outof"),
                    ))
                } else if other.contains('.') {
                    Err(syntax(
                        col,
                        format!("principal {other} must be quoted; write '{other}'"),
                    ))
                } else {
                    Err(syntax(
                        col,
                        format!("unknown gate '{other}'; expected AND, OR or OutOf"),
                    ))
                }
            }
        }
    }

    fn gate(&mut self, depth: usize) -> Result<Node> {
        let (tok, col) = self.next();
        let name = match tok {
            Tok::Ident(name) => name,
            Tok::Str(s) => {
                return Err(syntax(
                    col,
                    format!("a policy must start with a gate, found the principal '{s}'; write OR('{s}') for a single principal"),
                ))
            }
            other => {
                return Err(syntax(
                    col,
                    format!("expected a gate AND, OR or OutOf, found {}", other.describe()),
                ))
            }
        };
        let gate = Self::gate_name(&name, col)?;
        if depth > MAX_DEPTH {
            return Err(syntax(
                col,
                format!("policies nest at most {MAX_DEPTH} gates deep"),
            ));
        }
        let (tok, c) = self.next();
        if tok != Tok::LParen {
            return Err(syntax(
                c,
                format!("expected '(' after {name}, found {}", tok.describe()),
            ));
        }
        let mut threshold = None;
        if gate == Gate::OutOf {
            let (tok, c) = self.next();
            let text = match tok {
                Tok::Num(s) | Tok::Str(s) => s,
                other => {
                    return Err(syntax(
                        c,
                        format!(
                            "expected the threshold of {name} (a whole number), found {}",
                            other.describe()
                        ),
                    ))
                }
            };
            let n: u32 = text.trim().parse().map_err(|_| {
                syntax(
                    c,
                    format!("threshold '{text}' of {name} is not a whole number from 0 upwards"),
                )
            })?;
            threshold = Some((n, c));
            let (tok, c) = self.next();
            if tok != Tok::Comma {
                return Err(syntax(
                    c,
                    format!(
                        "expected ',' after the threshold of {name}, found {}",
                        tok.describe()
                    ),
                ));
            }
        }
        let mut children = Vec::new();
        loop {
            let (tok, c) = self.peek().clone();
            let what = match tok {
                Tok::Str(s) => {
                    self.pos += 1;
                    children.push(Node::Principal(principal(&s, c)?));
                    "a principal"
                }
                Tok::Ident(_) => {
                    children.push(self.gate(depth + 1)?);
                    "a nested policy"
                }
                Tok::RParen if children.is_empty() => {
                    return Err(syntax(c, format!("{name} needs at least one principal or nested policy")));
                }
                other => {
                    return Err(syntax(
                        c,
                        format!(
                            "expected a quoted principal such as 'Org1MSP.peer' or a nested AND/OR/OutOf, found {}",
                            other.describe()
                        ),
                    ))
                }
            };
            let (tok, c) = self.next();
            match tok {
                Tok::Comma => continue,
                Tok::RParen => break,
                other => {
                    return Err(syntax(
                        c,
                        format!(
                            "expected ',' or ')' after {what}, found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
        let count = children.len() as u32;
        let n = match gate {
            Gate::And => count,
            Gate::Or => 1,
            Gate::OutOf => {
                let (n, c) = threshold.unwrap_or((0, col));
                // Fabric accepts thresholds up to one more than the number of sub-policies.
                if n > count + 1 {
                    return Err(syntax(
                        c,
                        format!("{name} asks for {n} of {count} sub-policies; use a threshold from 0 to {count}"),
                    ));
                }
                n
            }
        };
        Ok(Node::Gate { n, children })
    }
}

/// Parses `MSPID.ROLE` (the text inside the quotes) at column `col`.
fn principal(text: &str, col: usize) -> Result<Principal> {
    let Some((msp_id, role)) = text.rsplit_once('.') else {
        return Err(syntax(
            col,
            format!(
                "principal '{text}' must be MSPID.ROLE, e.g. 'Org1MSP.peer' (roles: {})",
                ALLOWED_ROLES.join(", ")
            ),
        ));
    };
    let role = match role {
        "member" => MspRole::Member,
        "admin" => MspRole::Admin,
        "client" => MspRole::Client,
        "peer" => MspRole::Peer,
        "orderer" => MspRole::Orderer,
        other => {
            return Err(syntax(
                col,
                format!(
                    "unknown role '{other}' in '{text}'; allowed roles: {} (lowercase)",
                    ALLOWED_ROLES.join(", ")
                ),
            ))
        }
    };
    if msp_id.is_empty()
        || !msp_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(syntax(
            col,
            format!(
                "MSP ID '{msp_id}' in '{text}' may only contain ASCII letters, digits, '.' and '-'"
            ),
        ));
    }
    Ok(Principal::Role {
        msp_id: msp_id.to_owned(),
        role,
    })
}

/// Numbers principals the way Fabric's govaluate-based parser does (nested gates first).
fn build(node: Node, identities: &mut Vec<Principal>) -> SignaturePolicy {
    match node {
        Node::Principal(p) => {
            identities.push(p);
            SignaturePolicy::SignedBy(identities.len() as u32 - 1)
        }
        Node::Gate { n, children } => {
            let mut built: Vec<Option<SignaturePolicy>> = Vec::with_capacity(children.len());
            let mut principals = Vec::new();
            for child in children {
                match child {
                    gate @ Node::Gate { .. } => {
                        built.push(Some(build(gate, identities)));
                        principals.push(None);
                    }
                    Node::Principal(p) => {
                        built.push(None);
                        principals.push(Some(p));
                    }
                }
            }
            let rules = built
                .into_iter()
                .zip(principals)
                .map(|(b, p)| match (b, p) {
                    (Some(rule), _) => rule,
                    (None, Some(p)) => build(Node::Principal(p), identities),
                    (None, None) => unreachable!("each child is a gate or a principal"),
                })
                .collect();
            SignaturePolicy::NOutOf { n, rules }
        }
    }
}

/// Parses Fabric's signature policy language into an envelope shaped as Fabric shapes it.
pub fn parse(policy: &str) -> Result<SignaturePolicyEnvelope> {
    let toks = tokenize(policy)?;
    if toks.len() == 1 {
        return Err(syntax(
            1,
            "the policy is empty; write e.g. AND('Org1MSP.peer', 'Org2MSP.peer')".to_owned(),
        ));
    }
    let mut parser = Parser { toks, pos: 0 };
    let root = parser.gate(0)?;
    let (tok, col) = parser.next();
    if tok != Tok::End {
        return Err(syntax(
            col,
            format!("unexpected {} after the end of the policy", tok.describe()),
        ));
    }
    let mut identities = Vec::new();
    let rule = build(root, &mut identities);
    Ok(SignaturePolicyEnvelope {
        version: 0,
        rule,
        identities,
    })
}

/// Prints an envelope in the policy language: `AND` when all sub-rules are needed (and there
/// are several), `OR` when one is, `OutOf(n, …)` otherwise. Envelopes of role principals that
/// [`parse`] produced round-trip exactly; other principals print in a readable, non-parsable
/// form, and a bad index prints as `<missing identity N>`.
pub fn format(envelope: &SignaturePolicyEnvelope) -> String {
    let mut out = String::new();
    write_rule(&envelope.rule, &envelope.identities, &mut out);
    out
}

fn write_rule(rule: &SignaturePolicy, identities: &[Principal], out: &mut String) {
    match rule {
        SignaturePolicy::SignedBy(i) => match identities.get(*i as usize) {
            Some(Principal::Role { msp_id, role }) => {
                out.push('\'');
                out.push_str(msp_id);
                out.push('.');
                out.push_str(role.as_str());
                out.push('\'');
            }
            Some(other) => out.push_str(&format!("<{}>", crate::msp::principal_to_string(other))),
            None => out.push_str(&format!("<missing identity {i}>")),
        },
        SignaturePolicy::NOutOf { n, rules } => {
            let count = rules.len() as u32;
            if *n == 1 {
                out.push_str("OR(");
            } else if *n == count {
                out.push_str("AND(");
            } else {
                out.push_str(&format!("OutOf({n}, "));
            }
            for (i, r) in rules.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_rule(r, identities, out);
            }
            out.push(')');
        }
    }
}

/// Fails if the policy names an MSP that is not in `known` (e.g. the channel's members).
pub fn check_msp_ids(envelope: &SignaturePolicyEnvelope, known: &[&str]) -> Result<()> {
    for p in &envelope.identities {
        let msp_id = match p {
            Principal::Role { msp_id, .. } | Principal::OrganizationUnit { msp_id, .. } => msp_id,
            Principal::Identity(sid) => &sid.msp_id,
        };
        if !known.contains(&msp_id.as_str()) {
            return Err(PolicyError::UnknownMsp {
                msp_id: msp_id.clone(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use SignaturePolicy::{NOutOf, SignedBy};

    fn role(msp: &str, role: MspRole) -> Principal {
        Principal::Role {
            msp_id: msp.to_owned(),
            role,
        }
    }

    fn gate(n: u32, rules: Vec<SignaturePolicy>) -> SignaturePolicy {
        NOutOf { n, rules }
    }

    /// One table of inputs and the envelope Fabric's policydsl produces for them.
    #[test]
    fn parses_like_fabric_policydsl() {
        use MspRole::*;
        let cases: Vec<(&str, SignaturePolicy, Vec<Principal>)> = vec![
            (
                "OutOf(1, 'A.member', 'B.member')",
                gate(1, vec![SignedBy(0), SignedBy(1)]),
                vec![role("A", Member), role("B", Member)],
            ),
            (
                "AND('A.client', 'B.peer')",
                gate(2, vec![SignedBy(0), SignedBy(1)]),
                vec![role("A", Client), role("B", Peer)],
            ),
            (
                "OR('A.member', AND('B.member', 'C.member'))",
                gate(
                    1,
                    vec![SignedBy(2), gate(2, vec![SignedBy(0), SignedBy(1)])],
                ),
                vec![role("B", Member), role("C", Member), role("A", Member)],
            ),
            (
                "OR(AND('A.member', 'B.member'), OR('C.admin', 'D.member'))",
                gate(
                    1,
                    vec![
                        gate(2, vec![SignedBy(0), SignedBy(1)]),
                        gate(1, vec![SignedBy(2), SignedBy(3)]),
                    ],
                ),
                vec![
                    role("A", Member),
                    role("B", Member),
                    role("C", Admin),
                    role("D", Member),
                ],
            ),
            (
                "OR('MSP.member', 'MSP.WITH.DOTS.member', 'MSP-WITH-DASHES.member')",
                gate(1, vec![SignedBy(0), SignedBy(1), SignedBy(2)]),
                vec![
                    role("MSP", Member),
                    role("MSP.WITH.DOTS", Member),
                    role("MSP-WITH-DASHES", Member),
                ],
            ),
            (
                "OutOf('1', 'A.member', 'B.member')",
                gate(1, vec![SignedBy(0), SignedBy(1)]),
                vec![role("A", Member), role("B", Member)],
            ),
            (
                "OutOf(0, 'A.member', 'B.member')",
                gate(0, vec![SignedBy(0), SignedBy(1)]),
                vec![role("A", Member), role("B", Member)],
            ),
            (
                "OutOf(3, 'A.member', 'B.member')",
                gate(3, vec![SignedBy(0), SignedBy(1)]),
                vec![role("A", Member), role("B", Member)],
            ),
            // No de-duplication, exactly like Fabric.
            (
                "and(\"A.peer\", 'A.peer')",
                gate(2, vec![SignedBy(0), SignedBy(1)]),
                vec![role("A", Peer), role("A", Peer)],
            ),
            (
                "  OUTOF ( 1 , 'A.orderer' )  ",
                gate(1, vec![SignedBy(0)]),
                vec![role("A", Orderer)],
            ),
        ];
        for (input, rule, identities) in cases {
            let env = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                env,
                SignaturePolicyEnvelope {
                    version: 0,
                    rule,
                    identities
                },
                "{input}"
            );
        }
    }

    #[test]
    fn syntax_errors_name_the_column_and_what_was_expected() {
        let cases = [
            ("AND('Org1MSP.peer' 'Org2MSP.peer')", "column 20: expected ',' or ')' after a principal, found 'Org2MSP.peer'"),
            ("AND('Org1MSP.Peer')", "column 5: unknown role 'Peer' in 'Org1MSP.Peer'; allowed roles: member, admin, client, peer, orderer"),
            ("AND(Org1MSP.peer)", "column 5: principal Org1MSP.peer must be quoted; write 'Org1MSP.peer'"),
            ("XOR('A.peer')", "column 1: unknown gate 'XOR'; expected AND, OR or OutOf"),
            ("aNd('A.peer')", "column 1: gate 'aNd' is spelled in a case Fabric does not accept"),
            ("AND()", "column 5: AND needs at least one principal or nested policy"),
            ("OutOf(1)", "column 8: expected ',' after the threshold of OutOf, found ')'"),
            ("OutOf(4, 'A.peer', 'B.peer')", "column 7: OutOf asks for 4 of 2 sub-policies; use a threshold from 0 to 2"),
            ("OutOf(-1, 'A.peer')", "column 7: unexpected character '-'"),
            ("OutOf(1.5, 'A.peer')", "column 7: threshold '1.5' of OutOf is not a whole number"),
            ("AND('A.peer'", "column 13: expected ',' or ')' after a principal, found the end of the policy"),
            ("AND('A.peer')) ", "column 14: unexpected ')' after the end of the policy"),
            ("'A.peer'", "column 1: a policy must start with a gate, found the principal 'A.peer'"),
            ("", "column 1: the policy is empty"),
            ("AND('A.peer", "column 5: string starting here is not closed"),
            ("OR('Apeer')", "column 4: principal 'Apeer' must be MSPID.ROLE"),
            ("OR('Org 1.peer')", "column 4: MSP ID 'Org 1' in 'Org 1.peer' may only contain"),
            ("OR('A.peer', 2)", "column 14: expected a quoted principal such as 'Org1MSP.peer' or a nested AND/OR/OutOf, found 2"),
        ];
        for (input, expected) in cases {
            let err = parse(input).unwrap_err().to_string();
            assert!(
                err.starts_with(expected),
                "{input}:\n  got      {err}\n  expected {expected}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let input = format!("{}'A.peer'{}", "OR(".repeat(200), ")".repeat(200));
        assert!(parse(&input)
            .unwrap_err()
            .to_string()
            .contains("nest at most"));
    }

    #[test]
    fn format_prints_the_dsl() {
        for (input, printed) in [
            (
                "AND('Org1MSP.peer','Org2MSP.peer')",
                "AND('Org1MSP.peer', 'Org2MSP.peer')",
            ),
            (
                "OutOf(2, 'A.member', OR('B.admin', 'C.client'), 'D.orderer')",
                "OutOf(2, 'A.member', OR('B.admin', 'C.client'), 'D.orderer')",
            ),
            ("and('A.peer')", "OR('A.peer')"),
        ] {
            assert_eq!(format(&parse(input).unwrap()), printed);
        }
        let bad = SignaturePolicyEnvelope {
            version: 0,
            rule: gate(1, vec![SignedBy(3)]),
            identities: vec![],
        };
        assert_eq!(format(&bad), "OR(<missing identity 3>)");
    }

    #[test]
    fn unknown_msp_ids_are_named_with_the_known_ones() {
        let env = parse("AND('Org1MSP.peer', 'Org3MSP.peer')").unwrap();
        assert!(check_msp_ids(&env, &["Org1MSP", "Org2MSP", "Org3MSP"]).is_ok());
        assert_eq!(
            check_msp_ids(&env, &["Org1MSP", "Org2MSP"]).unwrap_err().to_string(),
            "policy names 'Org3MSP', which is not a member of this channel; known MSPs: Org1MSP, Org2MSP"
        );
    }

    #[derive(Clone, Debug)]
    enum Tree {
        Leaf(String, MspRole),
        Gate(u8, u32, Vec<Tree>),
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let roles = prop_oneof![
            Just(MspRole::Member),
            Just(MspRole::Admin),
            Just(MspRole::Client),
            Just(MspRole::Peer),
            Just(MspRole::Orderer)
        ];
        let leaf = ("[A-Za-z0-9][A-Za-z0-9.-]{0,8}", roles).prop_map(|(m, r)| Tree::Leaf(m, r));
        leaf.prop_recursive(4, 24, 4, |inner| {
            (0u8..3, any::<u32>(), prop::collection::vec(inner, 1..4))
                .prop_map(|(k, n, c)| Tree::Gate(k, n, c))
        })
    }

    fn to_dsl(t: &Tree) -> String {
        match t {
            Tree::Leaf(m, r) => format!("'{m}.{r}'"),
            Tree::Gate(k, n, c) => {
                let args: Vec<String> = c.iter().map(to_dsl).collect();
                match k {
                    0 => format!("AND({})", args.join(",")),
                    1 => format!("OR({})", args.join(", ")),
                    _ => format!("OutOf({}, {})", n % (c.len() as u32 + 2), args.join(" , ")),
                }
            }
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(t in tree().prop_filter("root must be a gate", |t| matches!(t, Tree::Gate(..)))) {
            let env = parse(&to_dsl(&t)).unwrap();
            let printed = format(&env);
            prop_assert_eq!(parse(&printed).unwrap(), env.clone());
            prop_assert_eq!(format(&parse(&printed).unwrap()), printed);
        }
    }
}
