//! Tests of `cambium crypto …`.
