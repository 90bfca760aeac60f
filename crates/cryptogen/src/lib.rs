//! Generates CAs, MSP folders and TLS material in Fabric's layout.
