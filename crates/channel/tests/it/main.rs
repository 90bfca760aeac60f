//! Integration tests of `cambium-channel`, against real MSP folders from `cambium-cryptogen`.

mod genesis;
mod policy;
mod support;
mod update;
mod yaml;
