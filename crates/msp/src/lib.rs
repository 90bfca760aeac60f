//! Identities, signing, verification, MSP folders and signature policies.
