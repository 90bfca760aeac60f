//! Turns a [`CryptoConfig`] into the exact names, SANs and paths to generate, checking it on the way.
//!
//! Resolution follows cryptogen: templated nodes are appended after `Specs`, a node's common
//! name defaults to `{{.Hostname}}.{{.Domain}}`, its TLS SANs start with the common name and the
//! short host name, the CA is `ca.<domain>` and the TLS CA `tls` + that. Unlike cryptogen, two nodes
//! with the same name are an error rather than silently one node, node TLS certificates also cover
//! `localhost` and `127.0.0.1`, and an orderer organisation's `Users.Count` is honoured.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use crate::config::{CryptoConfig, OrgSpec};
use crate::error::{CryptogenError, Result};
use crate::network::{CaFiles, GeneratedNetwork, GeneratedOrg, Identity, OrgKind, Role};
use crate::template;

/// Most nodes one organisation may have (`Specs` plus `Template.Count`).
pub const MAX_NODES_PER_ORG: u32 = 10_000;
/// Most users one organisation may have besides `Admin`.
pub const MAX_USERS_PER_ORG: u32 = 10_000;

/// SANs added to every node TLS certificate so that loopback connections verify.
const LOOPBACK_SANS: [&str; 2] = ["localhost", "127.0.0.1"];

/// Subject fields that the CA and every certificate it issues share (cryptogen's defaults apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubjectFields {
    pub(crate) country: String,
    pub(crate) province: String,
    pub(crate) locality: String,
    pub(crate) organizational_unit: Option<String>,
    pub(crate) street_address: Option<String>,
    pub(crate) postal_code: Option<String>,
}

/// One organisation, resolved: its public description plus what only generation needs.
#[derive(Debug, Clone)]
pub(crate) struct OrgPlan {
    pub(crate) org: GeneratedOrg,
    pub(crate) subject: SubjectFields,
    pub(crate) ca_sans: Vec<String>,
}

/// Resolves `config` into the organisations, identities and paths that [`crate::generate`] would
/// write under `out`, without touching the disk.
///
/// Use it to find material generated earlier (e.g. on a restart) or to show what a config means.
/// Checks everything `generate` checks before it writes: names, domains, templates, SANs, limits
/// and duplicates.
pub fn plan(config: &CryptoConfig, out: &Path) -> Result<GeneratedNetwork> {
    let orgs = resolve(config, out)?;
    Ok(GeneratedNetwork {
        out_dir: out.to_path_buf(),
        orgs: orgs.into_iter().map(|o| o.org).collect(),
    })
}

pub(crate) fn resolve(config: &CryptoConfig, out: &Path) -> Result<Vec<OrgPlan>> {
    if config.orderer_orgs.is_empty() && config.peer_orgs.is_empty() {
        return Err(CryptogenError::value(
            "OrdererOrgs/PeerOrgs",
            "the config defines no organisation; add at least one under OrdererOrgs or PeerOrgs",
        ));
    }
    let lists = [
        ("OrdererOrgs", OrgKind::Orderer, &config.orderer_orgs),
        ("PeerOrgs", OrgKind::Peer, &config.peer_orgs),
    ];
    let mut plans = Vec::new();
    let mut msp_ids = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for (list, kind, specs) in lists {
        for (index, spec) in specs.iter().enumerate() {
            let at = if spec.name.is_empty() {
                format!("{list}[{index}]")
            } else {
                format!("{list}[{index}] ({})", spec.name)
            };
            let plan = resolve_org(spec, kind, &at, out)?;
            if !msp_ids.insert(plan.org.msp_id.clone()) {
                return Err(CryptogenError::value(
                    format!("{at}.Name"),
                    format!(
                        "another organisation is also named `{}` (MSP ID {}); give each organisation its own Name",
                        spec.name, plan.org.msp_id
                    ),
                ));
            }
            if !dirs.insert(plan.org.dir.clone()) {
                return Err(CryptogenError::value(
                    format!("{at}.Domain"),
                    format!(
                        "another organisation of the same kind also uses domain `{}`; give each organisation its own Domain",
                        spec.domain
                    ),
                ));
            }
            plans.push(plan);
        }
    }
    Ok(plans)
}

fn resolve_org(spec: &OrgSpec, kind: OrgKind, at: &str, out: &Path) -> Result<OrgPlan> {
    check_msp_name(&format!("{at}.Name"), &spec.name)?;
    check_dns_name(&format!("{at}.Domain"), &spec.domain)?;
    let domain = spec.domain.as_str();

    let node_count = u64::from(spec.template.count) + spec.specs.len() as u64;
    if node_count > u64::from(MAX_NODES_PER_ORG) {
        return Err(CryptogenError::value(
            format!("{at}.Template.Count"),
            format!("{node_count} nodes is more than the limit of {MAX_NODES_PER_ORG} per organisation; split them across organisations"),
        ));
    }
    if spec.users.count > MAX_USERS_PER_ORG {
        return Err(CryptogenError::value(
            format!("{at}.Users.Count"),
            format!(
                "{} users is more than the limit of {MAX_USERS_PER_ORG} per organisation",
                spec.users.count
            ),
        ));
    }

    // The CA, rendered like a node spec whose host name defaults to `ca`.
    let ca_host = spec.ca.hostname.clone().unwrap_or_else(|| "ca".to_owned());
    check_path_component(&format!("{at}.CA.Hostname"), &ca_host)?;
    let ca_cn = render_common_name(
        &format!("{at}.CA.CommonName"),
        spec.ca.common_name.as_deref(),
        &ca_host,
        domain,
    )?;
    check_path_component(&format!("{at}.CA.CommonName"), &ca_cn)?;
    let tls_ca_cn = format!("tls{ca_cn}");
    let mut ca_sans = Vec::new();
    for (i, san) in spec.ca.sans.iter().enumerate() {
        let key = format!("{at}.CA.SANS[{i}]");
        let rendered = render_san(&key, san, &ca_host, domain, &ca_cn)?;
        push_unique(&mut ca_sans, rendered);
    }

    let subject = SubjectFields {
        country: non_empty(&spec.ca.country).unwrap_or("US").to_owned(),
        province: non_empty(&spec.ca.province)
            .unwrap_or("California")
            .to_owned(),
        locality: non_empty(&spec.ca.locality)
            .unwrap_or("San Francisco")
            .to_owned(),
        organizational_unit: non_empty(&spec.ca.organizational_unit).map(str::to_owned),
        street_address: non_empty(&spec.ca.street_address).map(str::to_owned),
        postal_code: non_empty(&spec.ca.postal_code).map(str::to_owned),
    };

    let org_dir = out.join(kind.folder()).join(domain);
    let ca = ca_files(&org_dir.join("ca"), ca_cn);
    let tls_ca = ca_files(&org_dir.join("tlsca"), tls_ca_cn);

    // Nodes: explicit specs first, then the template, as cryptogen does.
    struct RawNode<'a> {
        key: String,
        hostname: String,
        common_name: Option<&'a str>,
        sans: &'a [String],
    }
    let mut raw = Vec::new();
    for (i, node) in spec.specs.iter().enumerate() {
        raw.push(RawNode {
            key: format!("{at}.Specs[{i}]"),
            hostname: node.hostname.clone(),
            common_name: node.common_name.as_deref(),
            sans: &node.sans,
        });
    }
    let prefix = kind.node_role().node_ou();
    let host_template = spec
        .template
        .hostname
        .as_deref()
        .unwrap_or("{{.Prefix}}{{.Index}}");
    for i in 0..spec.template.count {
        let key = format!("{at}.Template");
        let Some(index) = spec.template.start.checked_add(i) else {
            return Err(CryptogenError::value(
                format!("{key}.Start"),
                "Start + Count overflows; use a smaller Start",
            ));
        };
        let index = index.to_string();
        let hostname = template::render(
            host_template,
            &[("Prefix", prefix), ("Index", &index), ("Domain", domain)],
        )
        .map_err(|problem| CryptogenError::value(format!("{key}.Hostname"), problem))?;
        raw.push(RawNode {
            key,
            hostname,
            common_name: None,
            sans: &spec.template.sans,
        });
    }

    let role = kind.node_role();
    let mut nodes = Vec::with_capacity(raw.len());
    let mut node_names = BTreeSet::new();
    for node in raw {
        if node.hostname.is_empty() {
            return Err(CryptogenError::value(
                format!("{}.Hostname", node.key),
                "the host name is empty; set Hostname to the node's short name, e.g. peer0",
            ));
        }
        check_dns_name(&format!("{}.Hostname", node.key), &node.hostname)?;
        let cn = render_common_name(
            &format!("{}.CommonName", node.key),
            node.common_name,
            &node.hostname,
            domain,
        )?;
        check_path_component(&format!("{}.CommonName", node.key), &cn)?;
        check_dns_name(&format!("{}.CommonName", node.key), &cn)?;
        if !node_names.insert(cn.clone()) {
            return Err(CryptogenError::value(
                node.key,
                format!("two nodes are both named `{cn}`; give each node its own Hostname or CommonName"),
            ));
        }
        let mut sans = vec![cn.clone()];
        push_unique(&mut sans, node.hostname.clone());
        for (i, san) in node.sans.iter().enumerate() {
            let rendered = render_san(
                &format!("{}.SANS[{i}]", node.key),
                san,
                &node.hostname,
                domain,
                &cn,
            )?;
            push_unique(&mut sans, rendered);
        }
        for san in LOOPBACK_SANS {
            push_unique(&mut sans, san.to_owned());
        }
        let dir = org_dir.join(kind.nodes_folder()).join(&cn);
        nodes.push(identity(
            dir,
            cn,
            role,
            spec.enable_node_ous,
            Some(node.hostname),
            sans,
        ));
    }

    // Users: the admin first, then User1..UserN. Users get no TLS SANs, as with cryptogen.
    let mut users = Vec::with_capacity(spec.users.count as usize + 1);
    let admin = format!("Admin@{domain}");
    users.push(identity(
        org_dir.join("users").join(&admin),
        admin,
        Role::Admin,
        spec.enable_node_ous,
        None,
        Vec::new(),
    ));
    for n in 1..=spec.users.count {
        let name = format!("User{n}@{domain}");
        users.push(identity(
            org_dir.join("users").join(&name),
            name,
            Role::Client,
            spec.enable_node_ous,
            None,
            Vec::new(),
        ));
    }

    let org = GeneratedOrg {
        name: spec.name.clone(),
        msp_id: format!("{}MSP", spec.name),
        domain: domain.to_owned(),
        kind,
        node_ous: spec.enable_node_ous,
        msp_dir: org_dir.join("msp"),
        dir: org_dir,
        ca,
        tls_ca,
        nodes,
        users,
    };
    Ok(OrgPlan {
        org,
        subject,
        ca_sans,
    })
}

fn ca_files(dir: &Path, common_name: String) -> CaFiles {
    CaFiles {
        cert: dir.join(format!("{common_name}-cert.pem")),
        key: dir.join("priv_sk"),
        dir: dir.to_path_buf(),
        common_name,
    }
}

fn identity(
    dir: std::path::PathBuf,
    name: String,
    role: Role,
    node_ous: bool,
    hostname: Option<String>,
    tls_sans: Vec<String>,
) -> Identity {
    let msp_dir = dir.join("msp");
    let tls_dir = dir.join("tls");
    let tls_prefix = if role.is_node() { "server" } else { "client" };
    Identity {
        cert: msp_dir.join("signcerts").join(format!("{name}-cert.pem")),
        key: msp_dir.join("keystore").join("priv_sk"),
        tls_cert: tls_dir.join(format!("{tls_prefix}.crt")),
        tls_key: tls_dir.join(format!("{tls_prefix}.key")),
        tls_ca_cert: tls_dir.join("ca.crt"),
        node_ou: node_ous.then(|| role.node_ou().to_owned()),
        name,
        role,
        hostname,
        dir,
        msp_dir,
        tls_dir,
        tls_sans,
    }
}

fn render_common_name(
    key: &str,
    template_text: Option<&str>,
    hostname: &str,
    domain: &str,
) -> Result<String> {
    let text = template_text
        .filter(|t| !t.is_empty())
        .unwrap_or("{{.Hostname}}.{{.Domain}}");
    let cn = template::render(text, &[("Hostname", hostname), ("Domain", domain)])
        .map_err(|problem| CryptogenError::value(key, problem))?;
    if cn.is_empty() {
        return Err(CryptogenError::value(
            key,
            "the common name renders empty; set CommonName or Hostname",
        ));
    }
    Ok(cn)
}

fn render_san(
    key: &str,
    text: &str,
    hostname: &str,
    domain: &str,
    common_name: &str,
) -> Result<String> {
    let san = template::render(
        text,
        &[
            ("Hostname", hostname),
            ("Domain", domain),
            ("CommonName", common_name),
        ],
    )
    .map_err(|problem| CryptogenError::value(key, problem))?;
    if san.parse::<IpAddr>().is_err() {
        check_dns_name(key, &san)?;
    }
    Ok(san)
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// An MSP ID is `<Name>MSP`; keep it to characters every tool and file name accepts.
fn check_msp_name(key: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(CryptogenError::value(
            key,
            "the organisation has no Name; set one such as Org1 (its MSP ID becomes Org1MSP)",
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(CryptogenError::value(
            key,
            format!("`{name}` contains {bad:?}; use only letters, digits, '-', '_' and '.' (the MSP ID is the Name followed by MSP)"),
        ));
    }
    Ok(())
}

/// Host names, domains and DNS SANs: printable ASCII without spaces, as certificates require.
fn check_dns_name(key: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(CryptogenError::value(
            key,
            "the name is empty; set a DNS name such as org1.example.com",
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '/' | '\\'))
    {
        return Err(CryptogenError::value(
            key,
            format!("`{name}` contains {bad:?}, which a DNS name cannot; use letters, digits, '-' and '.'"),
        ));
    }
    if name.split('.').any(str::is_empty) {
        return Err(CryptogenError::value(
            key,
            format!("`{name}` has an empty label (a leading, trailing or doubled '.'); remove it"),
        ));
    }
    Ok(())
}

/// Names that become folder names must stay inside their parent folder.
fn check_path_component(key: &str, name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(CryptogenError::value(key, format!("`{name}` cannot name a folder; use a name without '/' or '\\' that is not '.' or '..'")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NodeSpec, NodeTemplate, UsersSpec};

    fn org(name: &str, domain: &str) -> OrgSpec {
        OrgSpec {
            name: name.into(),
            domain: domain.into(),
            ..OrgSpec::default()
        }
    }

    fn check_err(config: &CryptoConfig, key: &str, fragment: &str) {
        let err = plan(config, Path::new("out")).unwrap_err();
        let CryptogenError::ConfigValue {
            key: got_key,
            problem,
        } = &err
        else {
            panic!("unexpected error {err:?}");
        };
        assert_eq!(got_key, key, "{err}");
        assert!(problem.contains(fragment), "{problem:?} lacks {fragment:?}");
    }

    #[test]
    fn default_network_resolves_like_cryptogen() {
        let net = plan(&CryptoConfig::default_network(), Path::new("out")).unwrap();
        let ids: Vec<_> = net.orgs.iter().map(|o| o.msp_id.as_str()).collect();
        assert_eq!(ids, ["OrdererMSP", "Org1MSP", "Org2MSP"]);
        let org1 = net.org("Org1MSP").unwrap();
        assert_eq!(
            org1.dir,
            Path::new("out/peerOrganizations/org1.example.com")
        );
        assert_eq!(
            org1.ca.cert,
            Path::new("out/peerOrganizations/org1.example.com/ca/ca.org1.example.com-cert.pem")
        );
        assert_eq!(org1.tls_ca.common_name, "tlsca.org1.example.com");
        let peer = &org1.nodes[0];
        assert_eq!(peer.name, "peer0.org1.example.com");
        assert_eq!(
            peer.tls_sans,
            ["peer0.org1.example.com", "peer0", "localhost", "127.0.0.1"]
        );
        assert_eq!(peer.tls_cert, Path::new("out/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt"));
        assert_eq!(peer.node_ou.as_deref(), Some("peer"));
        let users: Vec<_> = org1
            .users
            .iter()
            .map(|u| (u.name.as_str(), u.role))
            .collect();
        assert_eq!(
            users,
            [
                ("Admin@org1.example.com", Role::Admin),
                ("User1@org1.example.com", Role::Client)
            ]
        );
        assert_eq!(org1.admin().tls_key, Path::new("out/peerOrganizations/org1.example.com/users/Admin@org1.example.com/tls/client.key"));
        let orderer = net.org("OrdererMSP").unwrap();
        assert_eq!(orderer.nodes[0].cert, Path::new("out/ordererOrganizations/example.com/orderers/orderer.example.com/msp/signcerts/orderer.example.com-cert.pem"));
        assert_eq!(orderer.nodes[0].role, Role::Orderer);
        assert_eq!(net.identity_count(), 2 + 3 + 3);
    }

    #[test]
    fn templates_and_sans_render() {
        let mut o = org("Org1", "org1.example.com");
        o.specs.push(NodeSpec {
            hostname: "foo".into(),
            common_name: Some("foo27.org5.example.com".into()),
            sans: vec![
                "bar.{{.Domain}}".into(),
                "{{.Hostname}}.org6.net".into(),
                "172.16.10.31".into(),
                "foo".into(),
            ],
        });
        o.template = NodeTemplate {
            count: 2,
            start: 5,
            hostname: Some("node{{.Index}}".into()),
            sans: vec!["{{.CommonName}}.alt".into()],
        };
        let net = plan(
            &CryptoConfig {
                peer_orgs: vec![o],
                ..Default::default()
            },
            Path::new("o"),
        )
        .unwrap();
        let nodes = &net.orgs[0].nodes;
        assert_eq!(
            nodes[0].tls_sans,
            [
                "foo27.org5.example.com",
                "foo",
                "bar.org1.example.com",
                "foo.org6.net",
                "172.16.10.31",
                "localhost",
                "127.0.0.1"
            ]
        );
        let names: Vec<_> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "foo27.org5.example.com",
                "node5.org1.example.com",
                "node6.org1.example.com"
            ]
        );
        assert_eq!(nodes[2].tls_sans[2], "node6.org1.example.com.alt");
        assert!(!net.orgs[0].node_ous);
        assert_eq!(nodes[0].node_ou, None);
    }

    #[test]
    fn bad_values_name_their_key() {
        let one = |o: OrgSpec| CryptoConfig {
            peer_orgs: vec![o],
            ..Default::default()
        };
        check_err(
            &CryptoConfig::default(),
            "OrdererOrgs/PeerOrgs",
            "no organisation",
        );
        check_err(&one(org("", "a.com")), "PeerOrgs[0].Name", "no Name");
        check_err(
            &one(org("Org 1", "a.com")),
            "PeerOrgs[0] (Org 1).Name",
            "' '",
        );
        check_err(&one(org("Org1", "a/b")), "PeerOrgs[0] (Org1).Domain", "'/'");
        check_err(
            &one(org("Org1", "a..b")),
            "PeerOrgs[0] (Org1).Domain",
            "empty label",
        );
        let mut o = org("Org1", "a.com");
        o.template = NodeTemplate {
            count: 1,
            hostname: Some("{{.Nope}}".into()),
            ..Default::default()
        };
        check_err(&one(o), "PeerOrgs[0] (Org1).Template.Hostname", "{{.Nope}}");
        let mut o = org("Org1", "a.com");
        o.specs = vec![NodeSpec {
            hostname: "peer0".into(),
            ..Default::default()
        }];
        o.template.count = 1;
        check_err(
            &one(o),
            "PeerOrgs[0] (Org1).Template",
            "both named `peer0.a.com`",
        );
        let mut o = org("Org1", "a.com");
        o.specs = vec![NodeSpec {
            hostname: "".into(),
            ..Default::default()
        }];
        check_err(&one(o), "PeerOrgs[0] (Org1).Specs[0].Hostname", "empty");
        let mut o = org("Org1", "a.com");
        o.specs = vec![NodeSpec {
            hostname: "p".into(),
            sans: vec!["bad name".into()],
            ..Default::default()
        }];
        check_err(&one(o), "PeerOrgs[0] (Org1).Specs[0].SANS[0]", "' '");
        let mut o = org("Org1", "a.com");
        o.users = UsersSpec {
            count: MAX_USERS_PER_ORG + 1,
        };
        check_err(&one(o), "PeerOrgs[0] (Org1).Users.Count", "limit");
        let mut o = org("Org1", "a.com");
        o.template.count = MAX_NODES_PER_ORG + 1;
        check_err(&one(o), "PeerOrgs[0] (Org1).Template.Count", "limit");
        let mut o = org("Org1", "a.com");
        o.template = NodeTemplate {
            count: 2,
            start: u32::MAX,
            ..Default::default()
        };
        check_err(&one(o), "PeerOrgs[0] (Org1).Template.Start", "overflows");
        let twice = CryptoConfig {
            peer_orgs: vec![org("Org1", "a.com"), org("Org1", "b.com")],
            ..Default::default()
        };
        check_err(&twice, "PeerOrgs[1] (Org1).Name", "MSP ID Org1MSP");
        let same_domain = CryptoConfig {
            peer_orgs: vec![org("A", "a.com"), org("B", "a.com")],
            ..Default::default()
        };
        check_err(&same_domain, "PeerOrgs[1] (B).Domain", "domain `a.com`");
        let mut o = org("Org1", "a.com");
        o.ca.common_name = Some("..".into());
        check_err(
            &one(o),
            "PeerOrgs[0] (Org1).CA.CommonName",
            "cannot name a folder",
        );
    }

    #[test]
    fn orderer_and_peer_orgs_may_share_a_domain() {
        let config = CryptoConfig {
            orderer_orgs: vec![org("Ord", "a.com")],
            peer_orgs: vec![org("Peer", "a.com")],
        };
        let net = plan(&config, Path::new("o")).unwrap();
        assert_eq!(net.orderer_orgs().count(), 1);
        assert_eq!(net.peer_orgs().count(), 1);
    }
}
