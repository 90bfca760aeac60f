//! Tests of `cambium contract …`.
