fn main() {
    // digits: without a rerun-if-changed line cargo fingerprints this script by the newest
    // file of the crate and its path, and one target folder shares the crate's artifacts
    // between every folder it is built from: a build from the working clone then made CI's
    // clone compile this crate and every Burn crate above it again (vendor/README.md).
    println!("cargo:rerun-if-changed=build.rs");
    // https://github.com/rust-ndarray/ndarray/issues/1197
    if cfg!(feature = "blas-accelerate") {
        println!("cargo:rustc-link-lib=framework=Accelerate");
    }
}
