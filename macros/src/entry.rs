//! The expansion shared by `#[brisk::main]` and `#[brisk::test]`.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::{AttrStyle, Attribute, ItemFn, ReturnType, Type};

use crate::config::{self, Config, Errors, Flavor};

/// The number of worker threads a multi-thread `#[brisk::test]` runtime gets unless
/// `worker_threads` is given.
pub(crate) const TEST_DEFAULT_WORKER_THREADS: usize = 2;

/// Which attribute is being expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[brisk::main]`: the runtime uses the `Builder` defaults for every option not given.
    Main,
    /// `#[brisk::test]`: emits `#[test]`; current-thread by default, and with the multi-thread
    /// flavor `worker_threads` defaults to [`TEST_DEFAULT_WORKER_THREADS`].
    Test,
}

impl Kind {
    fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[brisk::main]",
            Kind::Test => "#[brisk::test]",
        }
    }

    /// Applies the kind-specific defaults to the options the user gave: a test is
    /// current-thread unless it asks for the multi-thread flavor (or for `worker_threads`,
    /// which implies it), and a multi-thread test gets [`TEST_DEFAULT_WORKER_THREADS`].
    fn effective_config(self, mut config: Config) -> Config {
        if self == Kind::Test {
            if config.flavor.is_none() {
                config.flavor = Some(if config.worker_threads.is_some() {
                    Flavor::MultiThread
                } else {
                    Flavor::CurrentThread
                });
            }
            if config.flavor == Some(Flavor::MultiThread) && config.worker_threads.is_none() {
                config.worker_threads = Some(TEST_DEFAULT_WORKER_THREADS);
            }
        }
        config
    }
}

/// Expands `#[brisk::main(args)]` or `#[brisk::test(args)]` applied to `item`.
///
/// Never panics on user input: every problem becomes a `compile_error!` with the span of the
/// offending tokens, emitted together with a stand-in function (see [`stub`]) so that the user
/// does not also get follow-up errors such as "`main` function not found".
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item,
                format!(
                    "the `{}` attribute can only be applied to an `async fn`",
                    kind.attribute()
                ),
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };

    let mut errors = Errors::default();
    let config = config::parse(args).unwrap_or_else(|error| {
        errors.push(error);
        Config::default()
    });
    if let Err(error) = validate(kind, &func) {
        errors.push(error);
    }
    match errors.into_result() {
        Ok(()) => render(kind, &kind.effective_config(config), func),
        Err(error) => {
            let error = error.to_compile_error();
            let stub = stub(kind, func);
            quote!(#error #stub)
        }
    }
}

/// Checks that `func` is something the attribute can turn into a runtime entry point.
fn validate(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let mut errors = Errors::default();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "the `async` keyword is missing from the function declaration",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let spanned = match &sig.generics.where_clause {
            Some(where_clause) if sig.generics.params.is_empty() => where_clause.to_token_stream(),
            _ => sig.generics.to_token_stream(),
        };
        errors.push(syn::Error::new_spanned(
            spanned,
            format!(
                "functions annotated with `{}` cannot be generic",
                kind.attribute()
            ),
        ));
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let message = if kind == Kind::Main && sig.ident == "main" {
            "the `main` function cannot accept arguments".to_owned()
        } else {
            format!(
                "functions annotated with `{}` cannot accept arguments",
                kind.attribute()
            )
        };
        let spanned = match (sig.inputs.is_empty(), &sig.variadic) {
            (true, Some(variadic)) => variadic.to_token_stream(),
            _ => sig.inputs.to_token_stream(),
        };
        errors.push(syn::Error::new_spanned(spanned, message));
    }
    if kind == Kind::Test {
        for attr in func.attrs.iter().filter(|attr| is_test_attribute(attr)) {
            errors.push(syn::Error::new_spanned(
                attr,
                "duplicate test attribute: `#[brisk::test]` already emits `#[test]`, remove this one",
            ));
        }
    }
    errors.into_result()
}

/// Whether `attr` is the built-in `#[test]` (as `test`, or `::core::prelude::v1::test` and the
/// like).
fn is_test_attribute(attr: &Attribute) -> bool {
    let segments: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    match segments.as_slice() {
        [name] => name == "test",
        [krate, prelude, _edition, name] => {
            (krate == "core" || krate == "std") && prelude == "prelude" && name == "test"
        }
        _ => false,
    }
}

/// `#[::core::prelude::v1::test]` for tests: the full path keeps working when the user's crate
/// shadows the name `test`.
fn test_attribute(kind: Kind) -> TokenStream {
    match kind {
        Kind::Main => TokenStream::new(),
        Kind::Test => quote!(#[::core::prelude::v1::test]),
    }
}

/// The function emitted next to the errors: the user's signature made valid (no `async`, no
/// arguments, no generics) with a body that is never run, since the crate does not compile.
fn stub(kind: Kind, mut func: ItemFn) -> TokenStream {
    func.sig.asyncness = None;
    func.sig.inputs.clear();
    func.sig.variadic = None;
    func.sig.generics = syn::Generics::default();
    if kind == Kind::Test {
        func.attrs.retain(|attr| !is_test_attribute(attr));
    }
    *func.block = syn::parse_quote!({ ::core::unreachable!("this function did not compile") });
    let test_attribute = test_attribute(kind);
    quote!(#test_attribute #func)
}

/// The expansion proper.
///
/// ```text
/// #[test]                   // #[brisk::test] only
/// #(outer attributes)
/// <vis> fn <name>() <output> {
///     #(inner attributes)
///     let body = async move {
///         <output type hint>
///         <the user's statements>
///     };
///     let runtime = ::brisk::Builder::new() <option calls> .build()
///         .unwrap_or_else(|err| panic!("failed to build the brisk runtime: {}", err));
///     runtime.block_on(body)
/// }
/// ```
///
/// `body`, `runtime` and `err` are hygienic (`Span::mixed_site`), so the user's code can neither
/// see nor shadow them.
fn render(kind: Kind, config: &Config, func: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = func;
    let (inner_attrs, outer_attrs): (Vec<Attribute>, Vec<Attribute>) = attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    sig.asyncness = None;

    let body_span = block.brace_token.span.join();
    let hint = output_hint(&sig.output);
    let stmts = &block.stmts;
    let mut body_block = Group::new(Delimiter::Brace, quote!(#hint #(#stmts)*));
    body_block.set_span(body_span);
    let mut body_future = quote_spanned!(body_span=> async move #body_block);
    if config.tokio_compat {
        // tokio's timers, sockets and `tokio::spawn` work inside the body (needs the
        // `brisk-compat` crate with its `tokio` feature).
        body_future = quote!(::brisk_compat::tokio::Compat::new(#body_future));
    }

    let body = syn::Ident::new("body", Span::mixed_site());
    let runtime = syn::Ident::new("runtime", Span::mixed_site());
    let err = syn::Ident::new("err", Span::mixed_site());
    let builder_calls = config.builder_calls();
    let constructor = config.constructor();
    let test_attribute = test_attribute(kind);

    quote! {
        #test_attribute
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            let #body = #body_future;
            let #runtime = #constructor
                #builder_calls
                .build()
                .unwrap_or_else(|#err| {
                    ::core::panic!("failed to build the brisk runtime: {}", #err)
                });
            #runtime.block_on(#body)
        }
    }
}

/// A statement that fixes the output type of the `async move` block to the function's declared
/// return type *before* the user's statements are type-checked.
///
/// Without it the block's output type is an inference variable until `block_on(body)` is unified
/// with the return type, which happens after the body has been checked: `Ok(())`, `?` and
/// `return` then work, but code whose type is only known through the return type (e.g. calling
/// a method on a value that is also `return`ed) fails with "type annotations needed". The
/// statement is dead code (`if false`) and costs nothing at run time; its `return` is what ties
/// the block's output type to `T`.
///
/// No hint is emitted for `-> impl Trait` (an opaque type cannot be written in a `let`) nor for
/// `-> !` (`!` cannot be written in a `let` on stable Rust); those rely on the unification with
/// the return type alone.
fn output_hint(output: &ReturnType) -> Option<TokenStream> {
    let (ty, ty_span) = match output {
        ReturnType::Default => (quote!(()), Span::call_site()),
        ReturnType::Type(_, ty) if can_name_in_let(ty) => {
            let span = ty.to_token_stream().into_iter().next().map(|tt| tt.span());
            (ty.to_token_stream(), span.unwrap_or_else(Span::call_site))
        }
        ReturnType::Type(..) => return None,
    };
    // Located at the declared type (but with the macro's hygiene, so that lints still see
    // generated code): a type error involving a `return` in the body then notes "return type
    // inferred to be `T` here" at the user's `-> T`, not at the attribute.
    let output = syn::Ident::new("__brisk_output", Span::mixed_site().located_at(ty_span));
    let return_token = quote_spanned!(Span::call_site().located_at(ty_span)=> return);
    Some(quote! {
        #[allow(unreachable_code)]
        if false {
            let #output: #ty = loop {};
            #return_token #output;
        }
    })
}

fn can_name_in_let(ty: &Type) -> bool {
    fn mentions_impl(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => ident == "impl",
            TokenTree::Group(group) => mentions_impl(group.stream()),
            TokenTree::Punct(_) | TokenTree::Literal(_) => false,
        })
    }
    !matches!(ty, Type::Never(_)) && !mentions_impl(ty.to_token_stream())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(kind: Kind, args: &str, item: &str) -> TokenStream {
        let args: TokenStream = args.parse().expect("args must tokenize");
        let item: TokenStream = item.parse().expect("item must tokenize");
        expand(kind, args, item)
    }

    /// The expansion parsed back, for the success cases.
    fn expand_fn(kind: Kind, args: &str, item: &str) -> ItemFn {
        let tokens = expand_str(kind, args, item);
        syn::parse2(tokens.clone()).unwrap_or_else(|e| panic!("{e}: {tokens}"))
    }

    /// The messages of the `compile_error!`s in an expansion.
    fn compile_errors(tokens: TokenStream) -> Vec<String> {
        let file: syn::File = syn::parse2(tokens).expect("expansion must parse as items");
        file.items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Macro(mac)
                    if mac.mac.path.segments.last().unwrap().ident == "compile_error" =>
                {
                    let lit: syn::LitStr = mac.mac.parse_body().expect("a string literal");
                    Some(lit.value())
                }
                _ => None,
            })
            .collect()
    }

    fn squash(tokens: impl ToTokens) -> String {
        tokens.to_token_stream().to_string().replace(' ', "")
    }

    #[test]
    fn main_without_options_uses_builder_defaults() {
        let func = expand_fn(Kind::Main, "", "async fn main() { println!(\"hi\"); }");
        assert!(func.sig.asyncness.is_none());
        assert_eq!(func.sig.ident, "main");
        assert!(func.attrs.is_empty());
        let body = squash(&func.block);
        assert!(
            body.contains("::brisk::Builder::new().build().unwrap_or_else("),
            "{body}"
        );
        assert!(body.contains("failedtobuildthebriskruntime:{}"), "{body}");
        assert!(body.contains("runtime.block_on(body)"), "{body}");
        assert!(body.contains("println!(\"hi\");"), "{body}");
    }

    #[test]
    fn main_with_all_options() {
        let func = expand_fn(
            Kind::Main,
            r#"worker_threads = 2, spawn_policy = "lazy", eager_budget = 16, eager_depth = 8, global_queue_interval = 31"#,
            "async fn main() {}",
        );
        let body = squash(&func.block);
        assert!(
            body.contains(
                "::brisk::Builder::new().worker_threads(2usize).spawn_policy(::brisk::SpawnPolicy::Lazy).eager_budget(16u32).eager_depth(8u32).global_queue_interval(31u32).build()"
            ),
            "{body}"
        );
    }

    #[test]
    fn signature_and_attributes_are_kept() {
        let func = expand_fn(
            Kind::Main,
            "",
            "/// Docs.\n#[inline(never)] pub(crate) async fn serve() -> std::io::Result<()> { #![allow(unused)] Ok(()) }",
        );
        assert_eq!(func.sig.ident, "serve");
        assert_eq!(squash(&func.vis), "pub(crate)");
        assert_eq!(squash(&func.sig.output), "->std::io::Result<()>");
        // syn puts the inner attributes of the body in `attrs` too.
        let attrs: Vec<String> = func.attrs.iter().map(squash).collect();
        assert_eq!(
            attrs,
            ["#[doc=\"Docs.\"]", "#[inline(never)]", "#![allow(unused)]"]
        );
        // The inner attribute stays inside the body, where it applies to the whole function.
        let tokens = squash(expand_str(
            Kind::Main,
            "",
            "#[inline(never)] async fn f() { #![allow(unused)] }",
        ));
        assert!(
            tokens.starts_with("#[inline(never)]fnf(){#![allow(unused)]letbody="),
            "{tokens}"
        );
    }

    #[test]
    fn body_is_an_async_move_block_with_an_output_hint() {
        let func = expand_fn(
            Kind::Main,
            "",
            "async fn main() -> Result<(), Box<dyn std::error::Error>> { let n: u32 = \"1\".parse()?; if n > 1 { return Ok(()); } Ok(()) }",
        );
        let body = squash(&func.block);
        assert!(
            body.contains(
                "letbody=asyncmove{#[allow(unreachable_code)]iffalse{let__brisk_output:Result<(),Box<dynstd::error::Error>>=loop{};return__brisk_output;}letn:u32=\"1\".parse()?;"
            ),
            "{body}"
        );
    }

    #[test]
    fn unit_return_gets_a_unit_hint() {
        let body = squash(expand_fn(Kind::Main, "", "async fn main() {}").block);
        assert!(body.contains("let__brisk_output:()=loop{};"), "{body}");
    }

    #[test]
    fn no_hint_for_impl_trait_or_never() {
        for item in [
            "async fn main() -> impl std::fmt::Debug { 1 }",
            "async fn f() -> Box<impl std::fmt::Debug> { Box::new(1) }",
            "async fn main() -> ! { loop {} }",
        ] {
            let body = squash(expand_fn(Kind::Main, "", item).block);
            assert!(!body.contains("__brisk_output"), "{body}");
            assert!(body.contains("letbody=asyncmove{"), "{body}");
        }
    }

    #[test]
    fn body_block_keeps_the_user_span() {
        // `proc-macro2`'s `span-locations` feature (enabled for the tests) gives the fallback
        // spans a position, so the async block's braces can be compared with the user's.
        let item: ItemFn = syn::parse_str("async fn main() {\n    1;\n}").unwrap();
        let user = item.block.brace_token.span.join();
        let position = |span: Span| (span.start(), span.end());
        assert_eq!(position(user).0.line, 1);
        assert_eq!(position(user).1.line, 3);
        let out = render(Kind::Main, &Config::default(), item);
        let fn_body = out
            .into_iter()
            .filter_map(|tt| match tt {
                TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => Some(g),
                _ => None,
            })
            .last()
            .expect("the function body");
        let found = fn_body.stream().into_iter().any(|tt| match tt {
            TokenTree::Group(inner) => {
                inner.delimiter() == Delimiter::Brace && position(inner.span()) == position(user)
            }
            _ => false,
        });
        assert!(
            found,
            "no block with the span of the user's body in {fn_body}"
        );
    }

    #[test]
    fn test_gets_test_attribute_and_the_current_thread_flavor() {
        let func = expand_fn(
            Kind::Test,
            "",
            "#[should_panic(expected = \"boom\")] #[ignore] async fn it_works() { panic!(\"boom\") }",
        );
        let attrs: Vec<String> = func.attrs.iter().map(squash).collect();
        assert_eq!(
            attrs,
            [
                "#[::core::prelude::v1::test]",
                "#[should_panic(expected=\"boom\")]",
                "#[ignore]"
            ]
        );
        let body = squash(&func.block);
        assert!(
            body.contains("::brisk::Builder::new_current_thread().build()"),
            "{body}"
        );
    }

    #[test]
    fn multi_thread_tests_get_two_workers() {
        let func = expand_fn(Kind::Test, "flavor = \"multi_thread\"", "async fn t() {}");
        let body = squash(&func.block);
        assert!(
            body.contains("::brisk::Builder::new().worker_threads(2usize).build()"),
            "{body}"
        );
        let func = expand_fn(
            Kind::Main,
            "flavor = \"current_thread\"",
            "async fn main() {}",
        );
        let body = squash(&func.block);
        assert!(
            body.contains("::brisk::Builder::new_current_thread().build()"),
            "{body}"
        );
    }

    #[test]
    fn test_worker_threads_can_be_overridden() {
        let func = expand_fn(Kind::Test, "worker_threads = 5", "async fn t() {}");
        let body = squash(&func.block);
        assert!(body.contains(".worker_threads(5usize).build()"), "{body}");
        assert!(!body.contains("2usize"), "{body}");
    }

    #[test]
    fn main_is_not_a_test() {
        let func = expand_fn(Kind::Main, "", "async fn main() {}");
        assert!(func.attrs.is_empty());
    }

    #[test]
    fn missing_async() {
        let out = expand_str(Kind::Main, "", "fn main() {}");
        assert_eq!(
            compile_errors(out.clone()),
            ["the `async` keyword is missing from the function declaration"]
        );
        // The stand-in `main` keeps the crate from also reporting a missing `main`.
        let file: syn::File = syn::parse2(out).unwrap();
        assert!(file
            .items
            .iter()
            .any(|item| matches!(item, syn::Item::Fn(f) if f.sig.ident == "main")));
    }

    #[test]
    fn arguments() {
        assert_eq!(
            compile_errors(expand_str(
                Kind::Main,
                "",
                "async fn main(args: Vec<String>) {}"
            )),
            ["the `main` function cannot accept arguments"]
        );
        assert_eq!(
            compile_errors(expand_str(Kind::Main, "", "async fn run(x: u32) {}")),
            ["functions annotated with `#[brisk::main]` cannot accept arguments"]
        );
        assert_eq!(
            compile_errors(expand_str(Kind::Test, "", "async fn t(x: u32) {}")),
            ["functions annotated with `#[brisk::test]` cannot accept arguments"]
        );
    }

    #[test]
    fn generics() {
        assert_eq!(
            compile_errors(expand_str(Kind::Test, "", "async fn t<T>() {}")),
            ["functions annotated with `#[brisk::test]` cannot be generic"]
        );
    }

    #[test]
    fn duplicate_test_attribute() {
        for attr in [
            "#[test]",
            "#[::core::prelude::v1::test]",
            "#[std::prelude::rust_2021::test]",
        ] {
            let out = expand_str(Kind::Test, "", &format!("{attr} async fn t() {{}}"));
            assert_eq!(
                compile_errors(out.clone()),
                ["duplicate test attribute: `#[brisk::test]` already emits `#[test]`, remove this one"],
                "{attr}"
            );
            // The stub carries exactly one test attribute.
            let file: syn::File = syn::parse2(out).unwrap();
            let stub = file.items.iter().find_map(|item| match item {
                syn::Item::Fn(f) => Some(f),
                _ => None,
            });
            assert_eq!(stub.unwrap().attrs.len(), 1);
        }
        // `#[brisk::main]` does not care about `#[test]` (it is odd, but not wrong).
        assert!(compile_errors(expand_str(Kind::Main, "", "#[test] async fn t() {}")).is_empty());
    }

    #[test]
    fn all_errors_at_once() {
        let out = expand_str(
            Kind::Test,
            "foo = 1, worker_threads = 0",
            "#[test] fn t<T>(x: T) {}",
        );
        assert_eq!(compile_errors(out).len(), 6);
    }

    #[test]
    fn bad_options_still_emit_a_stub() {
        let out = expand_str(
            Kind::Test,
            "foo = 1",
            "#[ignore] async fn t(x: u32) -> u8 { x }",
        );
        let file: syn::File = syn::parse2(out).unwrap();
        let stub = file
            .items
            .iter()
            .find_map(|item| match item {
                syn::Item::Fn(f) => Some(f),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            squash(stub),
            "#[::core::prelude::v1::test]#[ignore]fnt()->u8{::core::unreachable!(\"thisfunctiondidnotcompile\")}"
        );
    }

    #[test]
    fn not_a_function() {
        let out = expand_str(Kind::Main, "", "struct Foo;");
        assert_eq!(
            compile_errors(out.clone()),
            ["the `#[brisk::main]` attribute can only be applied to an `async fn`"]
        );
        // The item itself is passed through unchanged.
        assert!(squash(out).ends_with("structFoo;"));
    }
}
