//! Fabric protobuf messages and gRPC services, and their conversions to domain types.
