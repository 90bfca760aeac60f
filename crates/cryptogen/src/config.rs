//! The crypto config: the same YAML format as Fabric's `cryptogen` (`OrdererOrgs`, `PeerOrgs`, …).
//!
//! Keys are spelled exactly as cryptogen spells them. Unknown keys are rejected (a typo would
//! otherwise silently generate the wrong network), and the parser's message names the key and line.

use serde::{Deserialize, Serialize};

use crate::error::{CryptogenError, Result};

/// The built-in default network, as YAML with comments: one orderer org and two peer orgs.
///
/// `cambium crypto default-config` prints it; [`CryptoConfig::default_network`] parses it.
pub const DEFAULT_CONFIG_YAML: &str = r#"# Crypto config for `cambium crypto generate`, in Fabric cryptogen's format.
#
# Each organisation gets a signing CA (ca/), a TLS CA (tlsca/), an MSP folder (msp/) and one folder
# per node and user. Its MSP ID is its Name followed by "MSP" (Name: Org1 -> Org1MSP).

# ---------------------------------------------------------------------------
# OrdererOrgs: organisations that run orderer nodes
# ---------------------------------------------------------------------------
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    # Put the NodeOU (client, peer, admin, orderer) in each identity's subject and
    # write msp/config.yaml, instead of listing admins in admincerts/.
    EnableNodeOUs: true
    # Specs list nodes one by one. Hostname is required; CommonName defaults to
    # "{{.Hostname}}.{{.Domain}}"; SANS adds TLS subject alternative names (IP
    # addresses become IP SANs) and may use {{.Hostname}}, {{.Domain}} and
    # {{.CommonName}}.
    Specs:
      - Hostname: orderer

# ---------------------------------------------------------------------------
# PeerOrgs: organisations that run peers
# ---------------------------------------------------------------------------
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    # CA (optional) sets the CA's names and the subject of every certificate:
    # CA:
    #   Hostname: ca                  # CA common name becomes ca.org1.example.com
    #   CommonName: ca.org1.example.com
    #   Country: US
    #   Province: California
    #   Locality: San Francisco
    #   OrganizationalUnit: Hyperledger Fabric
    #   StreetAddress: address for org
    #   PostalCode: postalCode for org
    #
    # Template creates Count nodes named from Hostname (default "{{.Prefix}}{{.Index}}",
    # where Prefix is "peer" or "orderer" and Index runs from Start, default 0).
    Template:
      Count: 1
      # Start: 5
      # Hostname: "{{.Prefix}}{{.Index}}"
      # SANS:
      #   - "{{.Hostname}}.alt.{{.Domain}}"
    # Users: how many users (User1, User2, …) besides Admin.
    Users:
      Count: 1

  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template:
      Count: 1
    Users:
      Count: 1
"#;

/// A whole crypto config: the organisations to generate material for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoConfig {
    /// Organisations that run orderers (nodes go to `orderers/`).
    #[serde(rename = "OrdererOrgs", default)]
    pub orderer_orgs: Vec<OrgSpec>,
    /// Organisations that run peers (nodes go to `peers/`).
    #[serde(rename = "PeerOrgs", default)]
    pub peer_orgs: Vec<OrgSpec>,
}

/// One organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSpec {
    /// Short name; the MSP ID is this name followed by `MSP` (`Org1` → `Org1MSP`).
    #[serde(rename = "Name")]
    pub name: String,
    /// DNS domain of the organisation; names its folder and the default host names.
    #[serde(rename = "Domain")]
    pub domain: String,
    /// Put NodeOUs in certificates and write `config.yaml` instead of filling `admincerts/`.
    #[serde(rename = "EnableNodeOUs", default)]
    pub enable_node_ous: bool,
    /// Names of the CA and the subject fields copied into every certificate.
    #[serde(rename = "CA", default)]
    pub ca: CaSpec,
    /// Nodes listed one by one.
    #[serde(rename = "Specs", default)]
    pub specs: Vec<NodeSpec>,
    /// Nodes created from a numbered template.
    #[serde(rename = "Template", default)]
    pub template: NodeTemplate,
    /// Users besides `Admin`.
    #[serde(rename = "Users", default)]
    pub users: UsersSpec,
}

/// The organisation's CA: its names and the subject fields of everything it issues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaSpec {
    /// Host name of the CA; default `ca`.
    #[serde(rename = "Hostname", default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Common name of the CA, a template; default `{{.Hostname}}.{{.Domain}}`. The TLS CA is
    /// named `tls` + this.
    #[serde(
        rename = "CommonName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub common_name: Option<String>,
    /// Subject country (C); default `US`.
    #[serde(rename = "Country", default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Subject state or province (ST); default `California`.
    #[serde(rename = "Province", default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// Subject locality (L); default `San Francisco`.
    #[serde(rename = "Locality", default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// Subject organisational unit (OU), added to every certificate besides the NodeOU.
    #[serde(
        rename = "OrganizationalUnit",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub organizational_unit: Option<String>,
    /// Subject street address.
    #[serde(
        rename = "StreetAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub street_address: Option<String>,
    /// Subject postal code.
    #[serde(
        rename = "PostalCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub postal_code: Option<String>,
    /// Subject alternative names of the two CA certificates (templates, like node SANS).
    #[serde(rename = "SANS", default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

/// One node listed explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Host name without the domain (required), e.g. `peer0`.
    #[serde(rename = "Hostname")]
    pub hostname: String,
    /// Common name, a template; default `{{.Hostname}}.{{.Domain}}`.
    #[serde(
        rename = "CommonName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub common_name: Option<String>,
    /// Extra TLS subject alternative names (templates; IP addresses become IP SANs).
    #[serde(rename = "SANS", default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

/// Nodes created from a template: `Count` nodes numbered from `Start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTemplate {
    /// How many nodes.
    #[serde(rename = "Count", default)]
    pub count: u32,
    /// First index; default 0.
    #[serde(rename = "Start", default)]
    pub start: u32,
    /// Host name template; default `{{.Prefix}}{{.Index}}` (prefix `peer` or `orderer`).
    #[serde(rename = "Hostname", default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Extra TLS subject alternative names for every templated node.
    #[serde(rename = "SANS", default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
}

/// Users of an organisation besides `Admin`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersSpec {
    /// How many users `User1@<domain>` … `User<Count>@<domain>`.
    #[serde(rename = "Count", default)]
    pub count: u32,
}

impl CryptoConfig {
    /// Parses a cryptogen-style YAML config.
    ///
    /// Errors name the unknown key or bad value and its line. The result is only parsed, not
    /// checked: [`crate::plan`] and [`crate::generate`] check names, templates and duplicates.
    pub fn from_yaml(yaml: &str) -> Result<Self> {
        if yaml.trim().is_empty() {
            return Err(CryptogenError::ConfigSyntax {
                message: "the config is empty; it needs `OrdererOrgs` and/or `PeerOrgs`".to_owned(),
                line: None,
                column: None,
            });
        }
        serde_norway::from_str(yaml).map_err(|err| {
            let location = err.location();
            CryptogenError::ConfigSyntax {
                message: err.to_string(),
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
            }
        })
    }

    /// The built-in default network ([`DEFAULT_CONFIG_YAML`]): orderer org `Orderer`
    /// (`example.com`, one orderer `orderer.example.com`) and peer orgs `Org1`/`Org2`
    /// (`org1.example.com`/`org2.example.com`, one peer and one user each), NodeOUs enabled.
    pub fn default_network() -> Self {
        // The constant is tested to parse; failing here would be a bug in this crate.
        Self::from_yaml(DEFAULT_CONFIG_YAML).expect("the built-in default crypto config parses")
    }

    /// Serialises the config back to YAML (without comments).
    pub fn to_yaml(&self) -> String {
        // Serialising plain structs of strings, numbers and lists cannot fail.
        serde_norway::to_string(self).expect("a crypto config serialises to YAML")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_network_is_the_documented_one() {
        let config = CryptoConfig::default_network();
        assert_eq!(config.orderer_orgs.len(), 1);
        let orderer = &config.orderer_orgs[0];
        assert_eq!(
            (orderer.name.as_str(), orderer.domain.as_str()),
            ("Orderer", "example.com")
        );
        assert_eq!(orderer.specs[0].hostname, "orderer");
        assert!(orderer.enable_node_ous);
        let peers: Vec<_> = config
            .peer_orgs
            .iter()
            .map(|o| (o.name.as_str(), o.domain.as_str()))
            .collect();
        assert_eq!(
            peers,
            [("Org1", "org1.example.com"), ("Org2", "org2.example.com")]
        );
        for org in &config.peer_orgs {
            assert_eq!((org.template.count, org.users.count), (1, 1));
            assert!(org.enable_node_ous);
        }
    }

    #[test]
    fn yaml_round_trips() {
        let config = CryptoConfig::default_network();
        assert_eq!(CryptoConfig::from_yaml(&config.to_yaml()).unwrap(), config);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let yaml = "PeerOrgs:\n  - Name: Org1\n    Domian: org1.example.com\n";
        let err = CryptoConfig::from_yaml(yaml).unwrap_err();
        let CryptogenError::ConfigSyntax {
            ref message, line, ..
        } = err
        else {
            panic!("unexpected error {err:?}");
        };
        assert!(message.contains("unknown field `Domian`"), "{message}");
        assert_eq!(line, Some(3));
        assert!(
            err.to_string().contains("cambium crypto default-config"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        for (yaml, fragment) in [
            (
                "PeerOrgs:\n  - Name: A\n    Domain: a\n    Template:\n      Count: -1\n",
                "Count",
            ),
            (
                "PeerOrgs:\n  - Name: A\n    Domain: a\n    EnableNodeOUs: maybe\n",
                "EnableNodeOUs",
            ),
            ("PeerOrgs:\n  - Name: A\n", "missing field `Domain`"),
            ("PeerOrgs: 3\n", "PeerOrgs"),
            ("   \n", "empty"),
        ] {
            let err = CryptoConfig::from_yaml(yaml).unwrap_err().to_string();
            assert!(err.contains(fragment), "{yaml:?}: {err}");
        }
    }
}
