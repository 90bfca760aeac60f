//! Tests of `cambium ledger …`.
