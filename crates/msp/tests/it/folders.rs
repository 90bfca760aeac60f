//! MSP folders.
