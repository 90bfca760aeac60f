//! A small test PKI built with rcgen: CAs, intermediates, leaves with NodeOUs, CRLs.
//! Nothing is stored; every run generates fresh keys.

use cambium_msp::{MspConfig, NodeOusConfig, OuIdentifierConfig, SigningIdentity};
use cambium_primitives::SerializedIdentity;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

/// The time at which tests validate: 2026-06-01T00:00:00Z.
pub(crate) const AT: i64 = 1_780_272_000;

pub(crate) fn date(year: i32, month: u8, day: u8) -> OffsetDateTime {
    rcgen::date_time_ymd(year, month, day)
}

/// A CA with its key.
pub(crate) struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pub(crate) cert_pem: String,
}

/// An issued end-entity certificate with its key.
#[derive(Clone)]
pub(crate) struct Leaf {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) serial: u64,
}

impl Leaf {
    pub(crate) fn serialized(&self, msp_id: &str) -> SerializedIdentity {
        SerializedIdentity {
            msp_id: msp_id.to_owned(),
            id_bytes: self.cert_pem.clone().into_bytes(),
        }
    }

    pub(crate) fn signing(&self, msp_id: &str) -> SigningIdentity {
        SigningIdentity::new(
            msp_id,
            self.cert_pem.clone().into_bytes(),
            self.key_pem.as_bytes(),
        )
        .unwrap()
    }
}

fn ca_params(cn: &str, org: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "US");
    params
        .distinguished_name
        .push(DnType::OrganizationName, org);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date(2020, 1, 1);
    params.not_after = date(2040, 1, 1);
    params.key_identifier_method = KeyIdMethod::Sha256;
    params
}

impl Ca {
    pub(crate) fn root(cn: &str, org: &str) -> Ca {
        Ca::root_with(cn, org, &rcgen::PKCS_ECDSA_P256_SHA256)
    }

    /// A root CA whose key uses `alg` (e.g. P-384).
    pub(crate) fn root_with(cn: &str, org: &str, alg: &'static rcgen::SignatureAlgorithm) -> Ca {
        let params = ca_params(cn, org);
        let key = KeyPair::generate_for(alg).unwrap();
        let cert_pem = params.self_signed(&key).unwrap().pem();
        Ca {
            params,
            key,
            cert_pem,
        }
    }

    pub(crate) fn intermediate(&self, cn: &str, org: &str) -> Ca {
        let mut params = ca_params(cn, org);
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert_pem = params.signed_by(&key, &issuer).unwrap().pem();
        Ca {
            params,
            key,
            cert_pem,
        }
    }

    /// A leaf valid 2020–2040 with the given OUs.
    pub(crate) fn issue(&self, cn: &str, ous: &[&str], serial: u64) -> Leaf {
        self.issue_valid(cn, ous, serial, date(2020, 1, 1), date(2040, 1, 1))
    }

    pub(crate) fn issue_valid(
        &self,
        cn: &str,
        ous: &[&str],
        serial: u64,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Leaf {
        self.issue_full(
            cn,
            ous,
            serial,
            not_before,
            not_after,
            &rcgen::PKCS_ECDSA_P256_SHA256,
        )
    }

    /// A leaf with every parameter chosen, including its key's algorithm.
    pub(crate) fn issue_full(
        &self,
        cn: &str,
        ous: &[&str],
        serial: u64,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        alg: &'static rcgen::SignatureAlgorithm,
    ) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "US");
        for (i, ou) in ous.iter().enumerate() {
            // rcgen keeps one value per attribute type, so a second OU goes in under the same
            // OID spelled as a custom type.
            let ty = if i == 0 {
                DnType::OrganizationalUnitName
            } else {
                DnType::CustomDnType(vec![2, 5, 4, 11])
            };
            params.distinguished_name.push(ty, *ou);
        }
        params.distinguished_name.push(DnType::CommonName, cn);
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from(serial));
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate_for(alg).unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert_pem = params.signed_by(&key, &issuer).unwrap().pem();
        Leaf {
            cert_pem,
            key_pem: key.serialize_pem(),
            serial,
        }
    }

    /// A CRL of this CA revoking `serials`, PEM.
    pub(crate) fn crl(&self, serials: &[u64]) -> String {
        let params = CertificateRevocationListParams {
            this_update: date(2025, 1, 1),
            next_update: date(2030, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: date(2025, 1, 1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&Issuer::from_params(&self.params, &self.key))
            .unwrap()
            .pem()
            .unwrap()
    }
}

/// An organisation as cryptogen makes it: a root CA, NodeOUs, and one identity per role.
pub(crate) struct Org {
    pub(crate) msp_id: String,
    pub(crate) ca: Ca,
    pub(crate) peer: Leaf,
    pub(crate) client: Leaf,
    pub(crate) admin: Leaf,
    pub(crate) orderer: Leaf,
}

pub(crate) fn ou(cert_pem: &str, ou: &str) -> Option<OuIdentifierConfig> {
    Some(OuIdentifierConfig {
        certificate: cert_pem.as_bytes().to_vec(),
        organizational_unit_identifier: ou.to_owned(),
    })
}

impl Org {
    pub(crate) fn new(n: u32) -> Org {
        let domain = format!("org{n}.example.com");
        let ca = Ca::root(&format!("ca.{domain}"), &domain);
        Org {
            msp_id: format!("Org{n}MSP"),
            peer: ca.issue(&format!("peer0.{domain}"), &["peer"], 10),
            client: ca.issue(&format!("User1@{domain}"), &["client"], 11),
            admin: ca.issue(&format!("Admin@{domain}"), &["admin"], 12),
            orderer: ca.issue(&format!("orderer.{domain}"), &["orderer"], 13),
            ca,
        }
    }

    /// The MSP config with NodeOUs enabled (each role OU certified by the root CA).
    pub(crate) fn config(&self) -> MspConfig {
        let pem = &self.ca.cert_pem;
        MspConfig {
            name: self.msp_id.clone(),
            root_certs: vec![pem.clone().into_bytes()],
            node_ous: Some(NodeOusConfig {
                enable: true,
                client_ou_identifier: ou(pem, "client"),
                peer_ou_identifier: ou(pem, "peer"),
                admin_ou_identifier: ou(pem, "admin"),
                orderer_ou_identifier: ou(pem, "orderer"),
            }),
            ..MspConfig::default()
        }
    }

    /// The MSP config without NodeOUs, with the admin listed in admincerts.
    pub(crate) fn legacy_config(&self) -> MspConfig {
        MspConfig {
            name: self.msp_id.clone(),
            root_certs: vec![self.ca.cert_pem.clone().into_bytes()],
            admins: vec![self.admin.cert_pem.clone().into_bytes()],
            ..MspConfig::default()
        }
    }
}
