//! Build script of brisk: only for the mutation check (`scripts/mutants.sh`,
//! `tests/README.md`). `BRISK_MUTANT=name` builds the scheduler with the deliberate bug
//! `cfg(brisk_mutant = "name")`; unset (always, outside that script) it changes nothing.

fn main() {
    println!("cargo:rerun-if-env-changed=BRISK_MUTANT");
    if let Ok(name) = std::env::var("BRISK_MUTANT") {
        if !name.is_empty() {
            println!("cargo:rustc-cfg=brisk_mutant=\"{name}\"");
        }
    }
}
