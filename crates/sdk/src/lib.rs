//! Guest SDK for Cambium contracts: WebAssembly programs that run inside a Cambium peer.
//!
//! A contract is a Rust library crate (`crate-type = ["cdylib", "rlib"]`) that depends on this
//! crate by path and declares its functions once with [`contract!`]:
//!
//! ```
//! use cambium_sdk::{contract, Context, ContractError};
//!
//! fn put(ctx: &mut Context<'_>, key: String, value: String) -> Result<(), ContractError> {
//!     ctx.put_state(&key, value.as_bytes())
//! }
//!
//! fn get(ctx: &mut Context<'_>, key: String) -> Result<String, ContractError> {
//!     ctx.get_string(&key)?.ok_or_else(|| ContractError::not_found(format!("no key {}", key)))
//! }
//!
//! contract! {
//!     schema_version: 1;
//!     fn Put(key: String, value: String) => put;
//!     fn Get(key: String) => get;
//! }
//!
//! let mut stub = cambium_sdk::MockStub::new();
//! assert_eq!(stub.invoke(dispatch, "Put", &["a", "1"]).status, 200);
//! assert_eq!(stub.invoke(dispatch, "Get", &["a"]).payload, b"1");
//! ```
//!
//! The macro generates `dispatch` (used natively by [`MockStub`] and on wasm by the exported
//! `cambium_invoke`), and on `wasm32` the interface manifest in the `cambium_manifest` custom
//! section. The crate has no dependencies and builds with Rust 1.63, so Debian's toolchain can
//! build contracts offline. The host side of the ABI lives in `cambium-vm`; see its README.
//!
//! # Memory
//!
//! With the default cargo feature `allocator`, the SDK sets the module's `#[global_allocator]`
//! on wasm32: it serves allocations from the free pages of the module's initial memory (above
//! the linker's `__heap_base`) before it grows memory, reuses freed blocks, and returns null
//! (so the call traps, the same on every peer) when memory cannot grow further. Contracts built
//! with `cambium contract build` get enough initial memory that a typical call never grows it,
//! which spares the peer's VM two page-protection changes per call. A contract that wants its
//! own allocator depends on the SDK with `default-features = false`.

#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

#[cfg(any(all(target_arch = "wasm32", feature = "allocator"), test))]
mod allocator;
pub mod args;
pub mod codec;
pub mod composite;
pub mod context;
pub mod error;
pub mod json;
pub mod manifest;
pub mod mock;
pub mod stub;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use args::{FromArg, IntoPayload};
pub use context::{ClientIdentity, Context, Page};
pub use error::ContractError;
pub use json::{FromJson, JsonError, JsonValue, ToJson};
pub use mock::MockStub;
pub use stub::{KeyModification, RangePage, Response, Stub, Timestamp};

/// The signature of the dispatcher that [`contract!`] generates.
pub type Dispatch = fn(&mut Context<'_>) -> Result<Vec<u8>, ContractError>;

/// The signature of a migration handler declared with `migrate => handler;` in [`contract!`]:
/// it receives the version label of the definition being replaced.
pub type Migrate = fn(&mut Context<'_>, String) -> Result<(), ContractError>;

/// The function name a migration call carries as its first argument (the second is the
/// version being replaced), on the host and in [`MockStub::migrate`].
pub const MIGRATE_FUNCTION: &str = "migrate";

/// The version a migration replaces: the second argument of a migration call.
pub(crate) fn migrate_from_version(ctx: &mut Context<'_>) -> Result<String, ContractError> {
    let args = ctx.stub().args();
    match (args.first(), args.get(1)) {
        (Some(f), Some(v)) if f.as_slice() == MIGRATE_FUNCTION.as_bytes() => {
            String::from_utf8(v.clone()).map_err(|_| {
                ContractError::bad_request("the version being replaced is not valid UTF-8")
            })
        }
        _ => Err(ContractError::bad_request(
            "a migration call must carry [\"migrate\", from_version] as its input",
        )),
    }
}

/// `Some(handler)` or `None`; used by [`contract!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __cambium_migration {
    () => {
        ::core::option::Option::None
    };
    ($handler:path) => {
        ::core::option::Option::Some($handler as $crate::Migrate)
    };
}

/// The manifest line of a migration; used by [`contract!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __cambium_migrate_line {
    ($handler:path) => {
        "migrate\n"
    };
}

/// Counts identifiers; used by [`contract!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __cambium_count {
    () => { 0usize };
    ($head:ident $($tail:ident)*) => { 1usize + $crate::__cambium_count!($($tail)*) };
}

/// Declares a contract's functions once: generates the dispatcher, the wasm entry point and the
/// interface manifest.
///
/// Each line names the function as clients call it (Fabric style, e.g. `CreateAsset`), its
/// arguments with their types (any [`FromArg`] type), and the handler. A handler takes
/// `&mut Context<'_>` followed by the arguments and returns `Result<R, ContractError>` where `R`
/// implements [`IntoPayload`].
///
/// Generated items: `pub fn dispatch(ctx: &mut Context<'_>) -> Result<Vec<u8>, ContractError>`,
/// `pub fn manifest() -> String`, `pub const MIGRATION: Option<Migrate>`, and on `wasm32` the
/// exported `cambium_invoke` and the `cambium_manifest` custom section.
///
/// # Migrations
///
/// A version that changes the state format may declare, right after `schema_version`,
/// `migrate => handler;` where `handler` is a [`Migrate`]:
/// `fn(ctx: &mut Context<'_>, from_version: String) -> Result<(), ContractError>`.
/// The peer runs it once, inside the transaction that commits the new definition, with the
/// version label of the definition it replaces; its writes commit with the definition or not
/// at all. Clients cannot call it. On wasm it is the export `cambium_migrate`, and the
/// manifest gets a `migrate` line. Test it natively with [`MockStub::migrate`].
///
/// ```
/// use cambium_sdk::{contract, Context, ContractError};
///
/// fn get(ctx: &mut Context<'_>, key: String) -> Result<Vec<u8>, ContractError> {
///     Ok(ctx.get_state(&key)?.unwrap_or_default())
/// }
///
/// fn upper(ctx: &mut Context<'_>, _from_version: String) -> Result<(), ContractError> {
///     for (key, value) in ctx.range("", "")? {
///         ctx.put_state(&key, &value.to_ascii_uppercase())?;
///     }
///     Ok(())
/// }
///
/// contract! {
///     schema_version: 2;
///     migrate => upper;
///     fn Get(key: String) => get;
/// }
///
/// assert!(manifest().contains("\nmigrate\n"));
/// let mut stub = cambium_sdk::MockStub::new();
/// stub.seed_state("k", b"abc");
/// assert_eq!(stub.migrate(MIGRATION.unwrap(), "1.0").status, 200);
/// assert_eq!(stub.state("k"), Some(&b"ABC"[..]));
/// ```
#[macro_export]
macro_rules! contract {
    (
        schema_version: $schema:expr;
        $( migrate => $migrate:path; )?
        $( fn $name:ident ( $( $arg:ident : $ty:ty ),* $(,)? ) => $handler:path; )*
    ) => {
        /// Runs the function named by the call's first argument (generated by `contract!`).
        pub fn dispatch(
            ctx: &mut $crate::Context<'_>,
        ) -> ::core::result::Result<::std::vec::Vec<u8>, $crate::ContractError> {
            let __function = ctx.function()?;
            let __args = ctx.params();
            match __function.as_str() {
                $(
                    stringify!($name) => {
                        let __expected = $crate::__cambium_count!($($arg)*);
                        if __args.len() != __expected {
                            return ::core::result::Result::Err($crate::ContractError::bad_request(
                                ::std::format!(
                                    "{} takes {} argument(s), got {}",
                                    stringify!($name), __expected, __args.len()
                                ),
                            ));
                        }
                        #[allow(unused_mut, unused_variables)]
                        let mut __it = __args.iter();
                        $(
                            #[allow(non_snake_case)]
                            let $arg: $ty = match __it.next() {
                                ::core::option::Option::Some(bytes) => {
                                    <$ty as $crate::FromArg>::from_arg(stringify!($arg), bytes)?
                                }
                                ::core::option::Option::None => {
                                    return ::core::result::Result::Err(
                                        $crate::ContractError::bad_request("missing argument"),
                                    )
                                }
                            };
                        )*
                        #[allow(non_snake_case)]
                        let __out = $handler(ctx $(, $arg)*)?;
                        ::core::result::Result::Ok($crate::IntoPayload::into_payload(__out))
                    }
                )*
                __other => ::core::result::Result::Err($crate::ContractError::bad_request(
                    ::std::format!(
                        "no function named '{}' in this contract; it has: {}",
                        __other,
                        [$(stringify!($name)),*].join(", ")
                    ),
                )),
            }
        }

        /// The migration handler declared with `migrate =>`, if any (generated by `contract!`).
        #[allow(dead_code)]
        pub const MIGRATION: ::core::option::Option<$crate::Migrate> =
            $crate::__cambium_migration!($($migrate)?);

        #[doc(hidden)]
        pub const __CAMBIUM_SCHEMA: u32 = $schema;
        #[doc(hidden)]
        pub const __CAMBIUM_PARTS: &[&str] = &[
            $( $crate::__cambium_migrate_line!($migrate), )?
            $(
                "fn ", stringify!($name),
                $( " ", stringify!($arg), ":", <$ty as $crate::FromArg>::TYPE_NAME, )*
                "\n",
            )*
        ];
        #[doc(hidden)]
        pub const __CAMBIUM_MANIFEST_LEN: usize =
            $crate::manifest::manifest_len(__CAMBIUM_SCHEMA, __CAMBIUM_PARTS);

        /// The interface manifest embedded in the `cambium_manifest` custom section.
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[link_section = "cambium_manifest"]
        #[used]
        pub static __CAMBIUM_MANIFEST: [u8; __CAMBIUM_MANIFEST_LEN] =
            $crate::manifest::manifest_bytes::<__CAMBIUM_MANIFEST_LEN>(__CAMBIUM_SCHEMA, __CAMBIUM_PARTS);

        /// The interface manifest text, as embedded in the wasm module (generated by `contract!`).
        pub fn manifest() -> ::std::string::String {
            let bytes = $crate::manifest::manifest_bytes::<__CAMBIUM_MANIFEST_LEN>(
                __CAMBIUM_SCHEMA,
                __CAMBIUM_PARTS,
            );
            ::std::string::String::from_utf8_lossy(&bytes).into_owned()
        }

        /// The entry point the Cambium VM calls (generated by `contract!`).
        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn cambium_invoke() {
            $crate::wasm::run(dispatch)
        }

        $(
            /// The migration entry point the Cambium VM calls when this version's definition
            /// commits (generated by `contract!`).
            #[cfg(target_arch = "wasm32")]
            #[no_mangle]
            pub extern "C" fn cambium_migrate() {
                $crate::wasm::run_migrate($migrate)
            }
        )?
    };
}
