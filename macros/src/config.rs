//! Parsing of the attribute arguments, e.g. the `worker_threads = 2, spawn_policy = "lazy"` in
//! `#[brisk::main(worker_threads = 2, spawn_policy = "lazy")]`, into a [`Config`], and rendering
//! of a [`Config`] as calls on `::brisk::Builder`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, Lit, LitInt, Meta, Token};

/// The comma-separated list of option names, as shown in error messages.
pub(crate) const OPTION_NAMES: &str =
    "flavor, worker_threads, spawn_policy, eager_budget, eager_depth, global_queue_interval, start_paused, tokio_compat";

/// The option that picks the runtime flavor (not a `Builder` method: it picks the constructor).
const FLAVOR: &str = "flavor";

/// The runtime flavor, mirroring `Builder::new_current_thread` / `Builder::new_multi_thread`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    CurrentThread,
    MultiThread,
}

/// The flag that wraps the body in `brisk_compat::tokio::Compat`.
const TOKIO_COMPAT: &str = "tokio_compat";

/// One option accepted by `#[brisk::main(...)]` and `#[brisk::test(...)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opt {
    WorkerThreads,
    SpawnPolicy,
    EagerBudget,
    EagerDepth,
    GlobalQueueInterval,
    StartPaused,
}

impl Opt {
    /// All options, in the order their builder calls are rendered.
    pub(crate) const ALL: [Opt; 6] = [
        Opt::WorkerThreads,
        Opt::SpawnPolicy,
        Opt::EagerBudget,
        Opt::EagerDepth,
        Opt::GlobalQueueInterval,
        Opt::StartPaused,
    ];

    /// The option's name, which is also the name of its `Builder` method.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Opt::WorkerThreads => "worker_threads",
            Opt::SpawnPolicy => "spawn_policy",
            Opt::EagerBudget => "eager_budget",
            Opt::EagerDepth => "eager_depth",
            Opt::GlobalQueueInterval => "global_queue_interval",
            Opt::StartPaused => "start_paused",
        }
    }

    /// A well-formed use of the option, for error messages.
    fn example(self) -> &'static str {
        match self {
            Opt::WorkerThreads => "worker_threads = 4",
            Opt::SpawnPolicy => "spawn_policy = \"lazy\"",
            Opt::EagerBudget => "eager_budget = 16",
            Opt::EagerDepth => "eager_depth = 8",
            Opt::GlobalQueueInterval => "global_queue_interval = 31",
            Opt::StartPaused => "start_paused = true",
        }
    }

    fn from_name(name: &str) -> Option<Opt> {
        Opt::ALL.into_iter().find(|opt| opt.name() == name)
    }
}

/// The scheduling policy for newly spawned tasks, mirroring `brisk::SpawnPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpawnPolicy {
    Adaptive,
    Eager,
    Lazy,
}

/// The runtime options given to the attribute. `None` means "not given": the `Builder`'s own
/// default applies (except for `worker_threads` in tests, see [`crate::entry::Kind`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) worker_threads: Option<usize>,
    pub(crate) spawn_policy: Option<SpawnPolicy>,
    pub(crate) eager_budget: Option<u32>,
    pub(crate) eager_depth: Option<u32>,
    pub(crate) global_queue_interval: Option<u32>,
    /// `start_paused = true`: the runtime's clock starts paused (`Builder::start_paused`).
    pub(crate) start_paused: Option<bool>,
    /// `tokio_compat`: run the body inside `brisk_compat::tokio::Compat`.
    pub(crate) tokio_compat: bool,
    /// `flavor = "current_thread" | "multi_thread"`.
    pub(crate) flavor: Option<Flavor>,
}

/// Collects several errors into one, so that all of them are reported at once.
#[derive(Debug, Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn into_result(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Parses the attribute's arguments. Every problem found is reported, not only the first.
pub(crate) fn parse(args: TokenStream) -> syn::Result<Config> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut config = Config::default();
    let mut seen: Vec<Opt> = Vec::new();
    let mut errors = Errors::default();
    let mut flavor_meta: Option<&Meta> = None;
    let mut worker_threads_meta: Option<&Meta> = None;
    for meta in &metas {
        let path = meta.path();
        if path.is_ident(FLAVOR) {
            if flavor_meta.is_some() {
                errors.push(syn::Error::new_spanned(path, "duplicate option `flavor`"));
                continue;
            }
            flavor_meta = Some(meta);
            match parse_flavor(meta) {
                Ok(flavor) => config.flavor = Some(flavor),
                Err(error) => errors.push(error),
            }
            continue;
        }
        if path.is_ident("worker_threads") {
            worker_threads_meta.get_or_insert(meta);
        }
        if path.is_ident(TOKIO_COMPAT) {
            match meta {
                Meta::Path(_) if config.tokio_compat => errors.push(syn::Error::new_spanned(
                    path,
                    format!("duplicate option `{TOKIO_COMPAT}`"),
                )),
                Meta::Path(_) => config.tokio_compat = true,
                _ => errors.push(syn::Error::new_spanned(
                    meta,
                    format!(
                        "`{TOKIO_COMPAT}` takes no value: write `#[brisk::main({TOKIO_COMPAT})]`"
                    ),
                )),
            }
            continue;
        }
        let Some(opt) = path
            .get_ident()
            .and_then(|ident| Opt::from_name(&ident.to_string()))
        else {
            errors.push(unknown_option(path));
            continue;
        };
        if seen.contains(&opt) {
            errors.push(syn::Error::new_spanned(
                path,
                format!("duplicate option `{}`", opt.name()),
            ));
            continue;
        }
        seen.push(opt);
        if let Err(error) = config.apply(opt, meta) {
            errors.push(error);
        }
    }
    if let (Some(Flavor::CurrentThread), Some(meta)) = (config.flavor, worker_threads_meta) {
        errors.push(syn::Error::new_spanned(
            meta,
            "`worker_threads` needs the multi-thread flavor: a current-thread runtime runs \
             everything on the thread of `block_on`; write `flavor = \"multi_thread\"`",
        ));
    }
    errors.into_result().map(|()| config)
}

fn parse_flavor(meta: &Meta) -> syn::Result<Flavor> {
    let Meta::NameValue(name_value) = meta else {
        return Err(syn::Error::new_spanned(
            meta,
            "option `flavor` requires a value, e.g. `flavor = \"multi_thread\"`",
        ));
    };
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(lit), ..
    }) = peel(&name_value.value)
    else {
        return Err(syn::Error::new_spanned(
            &name_value.value,
            "`flavor` expects a string literal, \"current_thread\" or \"multi_thread\"",
        ));
    };
    match lit.value().as_str() {
        "current_thread" => Ok(Flavor::CurrentThread),
        "multi_thread" => Ok(Flavor::MultiThread),
        other => Err(syn::Error::new_spanned(
            lit,
            format!("unknown flavor `{other}`, expected \"current_thread\" or \"multi_thread\""),
        )),
    }
}

fn unknown_option(path: &syn::Path) -> syn::Error {
    let name = quote!(#path).to_string().replace(' ', "");
    let message = format!("unknown option `{name}`, expected one of: {OPTION_NAMES}");
    syn::Error::new_spanned(path, message)
}

impl Config {
    fn apply(&mut self, opt: Opt, meta: &Meta) -> syn::Result<()> {
        let value = match meta {
            Meta::NameValue(name_value) => &name_value.value,
            Meta::Path(path) => {
                return Err(syn::Error::new_spanned(
                    path,
                    format!(
                        "option `{}` requires a value, e.g. `{}`",
                        opt.name(),
                        opt.example()
                    ),
                ))
            }
            Meta::List(list) => {
                return Err(syn::Error::new_spanned(
                    list,
                    format!(
                        "expected `{} = <value>`, e.g. `{}`",
                        opt.name(),
                        opt.example()
                    ),
                ))
            }
        };
        match opt {
            Opt::WorkerThreads => {
                let n = parse_int::<usize>(opt, value, "usize")?;
                if n == 0 {
                    return Err(syn::Error::new_spanned(
                        value,
                        "`worker_threads` must be greater than 0",
                    ));
                }
                self.worker_threads = Some(n);
            }
            Opt::SpawnPolicy => self.spawn_policy = Some(parse_spawn_policy(value)?),
            Opt::EagerBudget => self.eager_budget = Some(parse_int(opt, value, "u32")?),
            Opt::EagerDepth => self.eager_depth = Some(parse_int(opt, value, "u32")?),
            Opt::GlobalQueueInterval => {
                let n = parse_int::<u32>(opt, value, "u32")?;
                if n == 0 {
                    return Err(syn::Error::new_spanned(
                        value,
                        "`global_queue_interval` must be greater than 0",
                    ));
                }
                self.global_queue_interval = Some(n);
            }
            Opt::StartPaused => match peel(value) {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Bool(b), ..
                }) => self.start_paused = Some(b.value),
                _ => {
                    return Err(syn::Error::new_spanned(
                        value,
                        "`start_paused` expects `true` or `false`, e.g. `start_paused = true`",
                    ))
                }
            },
        }
        Ok(())
    }

    /// The `Builder` constructor for the flavor: `new_current_thread` or `new` (multi-thread).
    pub(crate) fn constructor(&self) -> TokenStream {
        match self.flavor {
            Some(Flavor::CurrentThread) => quote!(::brisk::Builder::new_current_thread()),
            _ => quote!(::brisk::Builder::new()),
        }
    }

    /// Renders the `Builder` method calls for the given options, e.g.
    /// `.worker_threads(2usize) .spawn_policy(::brisk::SpawnPolicy::Lazy)`, in the order of
    /// [`Opt::ALL`]. Options that were not given produce no call.
    pub(crate) fn builder_calls(&self) -> TokenStream {
        let mut calls = TokenStream::new();
        for opt in Opt::ALL {
            let arg = match opt {
                Opt::WorkerThreads => self.worker_threads.map(|n| {
                    let lit = Literal::usize_suffixed(n);
                    quote!(#lit)
                }),
                Opt::SpawnPolicy => self.spawn_policy.map(|policy| match policy {
                    SpawnPolicy::Adaptive => quote!(::brisk::SpawnPolicy::Adaptive),
                    SpawnPolicy::Eager => quote!(::brisk::SpawnPolicy::Eager),
                    SpawnPolicy::Lazy => quote!(::brisk::SpawnPolicy::Lazy),
                }),
                Opt::EagerBudget => self.eager_budget.map(u32_lit),
                Opt::EagerDepth => self.eager_depth.map(u32_lit),
                Opt::GlobalQueueInterval => self.global_queue_interval.map(u32_lit),
                Opt::StartPaused => self.start_paused.map(|b| quote!(#b)),
            };
            if let Some(arg) = arg {
                let method = syn::Ident::new(opt.name(), Span::call_site());
                calls.extend(quote!(.#method(#arg)));
            }
        }
        calls
    }
}

fn u32_lit(n: u32) -> TokenStream {
    let lit = Literal::u32_suffixed(n);
    quote!(#lit)
}

/// Looks through the invisible groups that `macro_rules!` wraps around `$x:expr` fragments.
fn peel(value: &Expr) -> &Expr {
    match value {
        Expr::Group(group) => peel(&group.expr),
        other => other,
    }
}

fn parse_int<N>(opt: Opt, value: &Expr, ty: &str) -> syn::Result<N>
where
    N: std::str::FromStr,
    N::Err: std::fmt::Display,
{
    let lit: &LitInt = match peel(value) {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit,
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) if matches!(
            peel(expr),
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(_),
                ..
            })
        ) =>
        {
            return Err(syn::Error::new_spanned(
                value,
                format!("`{}` cannot be negative", opt.name()),
            ))
        }
        _ => {
            return Err(syn::Error::new_spanned(
                value,
                format!(
                    "`{}` expects an integer literal, e.g. `{}`",
                    opt.name(),
                    opt.example()
                ),
            ))
        }
    };
    if lit.base10_digits().starts_with('-') {
        return Err(syn::Error::new_spanned(
            lit,
            format!("`{}` cannot be negative", opt.name()),
        ));
    }
    if !lit.suffix().is_empty() && lit.suffix() != ty {
        return Err(syn::Error::new_spanned(
            lit,
            format!(
                "`{}` is a `{ty}`, but this literal has the suffix `{}`",
                opt.name(),
                lit.suffix()
            ),
        ));
    }
    lit.base10_parse::<N>().map_err(|_| {
        syn::Error::new_spanned(
            lit,
            format!(
                "`{}` is out of range: the value must fit in a `{ty}`",
                opt.name()
            ),
        )
    })
}

fn parse_spawn_policy(value: &Expr) -> syn::Result<SpawnPolicy> {
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(lit), ..
    }) = peel(value)
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`spawn_policy` expects a string literal, \"adaptive\", \"eager\" or \"lazy\", e.g. `spawn_policy = \"lazy\"`",
        ));
    };
    let policy = lit.value();
    match policy.to_ascii_lowercase().as_str() {
        "adaptive" => Ok(SpawnPolicy::Adaptive),
        "eager" => Ok(SpawnPolicy::Eager),
        "lazy" => Ok(SpawnPolicy::Lazy),
        _ => Err(syn::Error::new_spanned(
            lit,
            format!(
                "unknown spawn_policy `{policy}`, expected \"adaptive\", \"eager\" or \"lazy\""
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &str) -> syn::Result<Config> {
        let tokens: TokenStream = args.parse().expect("test input must tokenize");
        parse(tokens)
    }

    fn error_messages(args: &str) -> Vec<String> {
        match parse_str(args) {
            Ok(config) => panic!("expected an error for `{args}`, got {config:?}"),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn empty_args_give_defaults() {
        assert_eq!(parse_str("").unwrap(), Config::default());
        assert!(Config::default().builder_calls().is_empty());
    }

    #[test]
    fn all_options() {
        let config = parse_str(
            r#"worker_threads = 2, spawn_policy = "lazy", eager_budget = 16, eager_depth = 8,
               global_queue_interval = 31, start_paused = true,"#,
        )
        .unwrap();
        assert_eq!(
            config,
            Config {
                worker_threads: Some(2),
                spawn_policy: Some(SpawnPolicy::Lazy),
                eager_budget: Some(16),
                eager_depth: Some(8),
                global_queue_interval: Some(31),
                start_paused: Some(true),
                tokio_compat: false,
                flavor: None,
            }
        );
    }

    #[test]
    fn start_paused_takes_a_bool_and_renders_its_builder_call() {
        let config = parse(quote!(start_paused = true)).unwrap();
        assert_eq!(config.start_paused, Some(true));
        assert_eq!(
            config.builder_calls().to_string(),
            quote!(.start_paused(true)).to_string()
        );
        let err = parse(quote!(start_paused = 1)).unwrap_err();
        assert!(
            err.to_string().contains("expects `true` or `false`"),
            "{err}"
        );
        assert!(parse(quote!(start_paused)).is_err(), "needs a value");
    }

    #[test]
    fn tokio_compat_is_a_bare_flag() {
        let config = parse(quote!(worker_threads = 1, tokio_compat)).unwrap();
        assert!(config.tokio_compat);
        assert_eq!(config.worker_threads, Some(1));
        assert!(!parse(quote!(worker_threads = 1)).unwrap().tokio_compat);
        let err = parse(quote!(tokio_compat = true)).unwrap_err().to_string();
        assert!(err.contains("`tokio_compat` takes no value"), "{err}");
        let err = parse(quote!(tokio_compat, tokio_compat))
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate option `tokio_compat`"), "{err}");
    }

    #[test]
    fn spawn_policy_is_case_insensitive() {
        for (text, policy) in [
            ("eager", SpawnPolicy::Eager),
            ("EAGER", SpawnPolicy::Eager),
            ("adaptive", SpawnPolicy::Adaptive),
            ("Lazy", SpawnPolicy::Lazy),
            ("lAzY", SpawnPolicy::Lazy),
        ] {
            let config = parse_str(&format!("spawn_policy = \"{text}\"")).unwrap();
            assert_eq!(config.spawn_policy, Some(policy), "{text}");
        }
    }

    #[test]
    fn matching_suffixes_are_accepted() {
        let config = parse_str("worker_threads = 3usize, eager_budget = 0u32").unwrap();
        assert_eq!(config.worker_threads, Some(3));
        assert_eq!(config.eager_budget, Some(0));
    }

    #[test]
    fn eager_budget_and_depth_may_be_zero() {
        let config = parse_str("eager_budget = 0, eager_depth = 0").unwrap();
        assert_eq!(config.eager_budget, Some(0));
        assert_eq!(config.eager_depth, Some(0));
    }

    #[test]
    fn builder_calls_follow_a_fixed_order() {
        let config = parse_str(
            r#"global_queue_interval = 31, eager_depth = 8, eager_budget = 16,
               spawn_policy = "Eager", worker_threads = 2"#,
        )
        .unwrap();
        assert_eq!(
            config.builder_calls().to_string(),
            quote!(
                .worker_threads(2usize)
                .spawn_policy(::brisk::SpawnPolicy::Eager)
                .eager_budget(16u32)
                .eager_depth(8u32)
                .global_queue_interval(31u32)
            )
            .to_string()
        );
    }

    #[test]
    fn unknown_option() {
        assert_eq!(
            error_messages("foo = 1"),
            ["unknown option `foo`, expected one of: flavor, worker_threads, spawn_policy, eager_budget, eager_depth, global_queue_interval, start_paused, tokio_compat"]
        );
        assert_eq!(
            error_messages("a::b = 1"),
            ["unknown option `a::b`, expected one of: flavor, worker_threads, spawn_policy, eager_budget, eager_depth, global_queue_interval, start_paused, tokio_compat"]
        );
    }

    #[test]
    fn flavor_option() {
        assert_eq!(
            parse_str("flavor = \"current_thread\"").unwrap().flavor,
            Some(Flavor::CurrentThread)
        );
        let multi = parse_str("flavor = \"multi_thread\", worker_threads = 3").unwrap();
        assert_eq!(multi.flavor, Some(Flavor::MultiThread));
        assert_eq!(multi.worker_threads, Some(3));
        assert_eq!(
            error_messages("flavor = \"single\""),
            ["unknown flavor `single`, expected \"current_thread\" or \"multi_thread\""]
        );
        assert_eq!(
            error_messages("flavor = current_thread"),
            ["`flavor` expects a string literal, \"current_thread\" or \"multi_thread\""]
        );
        assert_eq!(
            error_messages("flavor = \"multi_thread\", flavor = \"multi_thread\""),
            ["duplicate option `flavor`"]
        );
        let both = error_messages("flavor = \"current_thread\", worker_threads = 2");
        assert!(
            both[0].contains("`worker_threads` needs the multi-thread flavor"),
            "{both:?}"
        );
    }

    #[test]
    fn duplicate_option() {
        assert_eq!(
            error_messages("worker_threads = 1, worker_threads = 2"),
            ["duplicate option `worker_threads`"]
        );
        // A duplicate is reported even when the first occurrence was invalid.
        assert_eq!(
            error_messages("eager_depth = \"x\", eager_depth = 2"),
            [
                "`eager_depth` expects an integer literal, e.g. `eager_depth = 8`",
                "duplicate option `eager_depth`"
            ]
        );
    }

    #[test]
    fn bad_value_types() {
        assert_eq!(
            error_messages("worker_threads = \"4\""),
            ["`worker_threads` expects an integer literal, e.g. `worker_threads = 4`"]
        );
        assert_eq!(
            error_messages("eager_budget = -1"),
            ["`eager_budget` cannot be negative"]
        );
        assert_eq!(
            error_messages("eager_budget = - 1"),
            ["`eager_budget` cannot be negative"]
        );
        assert_eq!(
            error_messages("global_queue_interval = N"),
            ["`global_queue_interval` expects an integer literal, e.g. `global_queue_interval = 31`"]
        );
        assert_eq!(
            error_messages("spawn_policy = lazy"),
            ["`spawn_policy` expects a string literal, \"adaptive\", \"eager\" or \"lazy\", e.g. `spawn_policy = \"lazy\"`"]
        );
        assert_eq!(
            error_messages("spawn_policy = \"fifo\""),
            ["unknown spawn_policy `fifo`, expected \"adaptive\", \"eager\" or \"lazy\""]
        );
        assert_eq!(
            error_messages("eager_depth = 2u8"),
            ["`eager_depth` is a `u32`, but this literal has the suffix `u8`"]
        );
        assert_eq!(
            error_messages("eager_depth = 4294967296"),
            ["`eager_depth` is out of range: the value must fit in a `u32`"]
        );
    }

    #[test]
    fn zero_is_rejected_where_meaningless() {
        assert_eq!(
            error_messages("worker_threads = 0"),
            ["`worker_threads` must be greater than 0"]
        );
        assert_eq!(
            error_messages("global_queue_interval = 0"),
            ["`global_queue_interval` must be greater than 0"]
        );
    }

    #[test]
    fn options_need_a_value() {
        assert_eq!(
            error_messages("worker_threads"),
            ["option `worker_threads` requires a value, e.g. `worker_threads = 4`"]
        );
        assert_eq!(
            error_messages("spawn_policy(lazy)"),
            ["expected `spawn_policy = <value>`, e.g. `spawn_policy = \"lazy\"`"]
        );
    }

    #[test]
    fn all_errors_are_reported() {
        assert_eq!(
            error_messages("foo = 1, worker_threads = 0, spawn_policy = 3").len(),
            3
        );
    }

    #[test]
    fn malformed_arguments_are_a_syntax_error() {
        assert!(parse_str("worker_threads = 2 eager_depth = 3").is_err());
        assert!(parse_str("1 + 2").is_err());
    }
}
