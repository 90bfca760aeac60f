//! Block store, versioned state database and indexes.
