//! The standard library: Covenant source shipped inside the binary, imported as `std.NAME`.

pub const MODULES: &[(&str, &str)] = &[
    ("lending", include_str!("../stdlib/lending.cov")),
    ("liquidity", include_str!("../stdlib/liquidity.cov")),
    ("gpu", include_str!("../stdlib/gpu.cov")),
    ("crypto", include_str!("../stdlib/crypto.cov")),
];

/// The source of `std.NAME`, given `NAME`.
pub fn source(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}
