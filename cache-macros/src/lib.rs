//! The `#[memoize]` attribute of cachette. Use it through `cachette::memoize`; see its docs there.
//!
//! `args` parses the attribute, `function` checks the function it wraps, `expand` writes the
//! function and its two `_forget` companions. Keys and versions are `cachette::Memoized`'s: the
//! generated code builds one per call and does nothing a hand-written call could not.

use proc_macro::TokenStream;

mod args;
mod expand;
mod function;

/// Memoizes an async function in a cachette cache: its results are cached per argument set, and
/// forgotten for one argument set or all of them.
///
/// * [Arguments](#arguments)
/// * [Free functions](#free-functions)
/// * [Methods](#methods)
/// * [Expiry from the arguments](#expiry-from-the-arguments)
/// * [Forgetting results](#forgetting-results)
/// * [Flask-Caching's options](#flask-cachings-options)
/// * [Names and keys](#names-and-keys)
///
/// # Arguments
///
/// `#[memoize(cache = <expr>, ttl = <expr> | policy = <expr>, instance = <expr>, name = "<name>", <options>)]`
///
/// | argument   | needed          | what it is |
/// |------------|-----------------|------------|
/// | `cache`    | always          | anything that dereferences to a `Cache`: a `static LazyLock<Cache>`, `self.cache`, `state.cache`; it may use the arguments |
/// | `ttl`      | no: `Ttl::Default` | a `Ttl` for the results; it may use the arguments |
/// | `policy`   | no (instead of `ttl`) | a `LoadPolicy`: fresh period, stale-while-revalidate, stale-if-error, loader deadlines (see `Cache::get_or_set_with`); the arguments must then be owned (`'static`), since a refresh runs in the background |
/// | `instance` | on methods      | what identifies `self` in the key: `self.id` (any `Serialize` expression naming fields), or `self` when `Self: Serialize` |
/// | `name`     | no: the function's path | the function's name in keys |
/// | `cache_none` | no: `false` | `true` stores a `None` result (of an `Option<T>` or `Result<Option<T>, E>` function); by default it is called again |
/// | `unless`   | no | a `bool` expression, on each call: `true` skips the cache (no read, no write, no event) |
/// | `forced_update` | no | a `bool` expression, on each call: `true` runs the function and stores its result even on a hit |
/// | `is_stale` | no | a closure or function `Fn(&T) -> bool`: a stored result it says is stale is a miss |
/// | `response_filter` | no | a closure or function `Fn(&T) -> bool`: a result it refuses is returned, not stored |
/// | `make_name` | no | a closure or function `Fn(&str) -> String`, on each call: the function's name in keys, computed from its name |
/// | `args_to_ignore` | no | `[arg, ..]`: arguments left out of the key and out of `<fn>_forget`'s parameters |
///
/// The options are Flask-Caching's `memoize` options, made to fit Rust: see
/// [Flask-Caching's options](#flask-cachings-options).
///
/// The function must be `async`, and its arguments (other than `self`) plain `name: Type`
/// patterns of `Serialize` types: they form the key. Its output must be `Serialize +
/// DeserializeOwned`. A function returning `Result<T, E>` becomes one returning
/// `Result<T, cachette::CacheError>` (an error of yours is the source of `CacheError::Loader`, and
/// nothing is stored); one returning `T` becomes one returning `Result<T, CacheError>`.
/// Concurrent misses of one argument set run the body once (single-flight, as `get_or_set`).
///
/// # Free functions
///
/// ```
/// use std::sync::LazyLock;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use cachette::{Cache, Config, memoize};
///
/// static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());
/// static LOADS: AtomicUsize = AtomicUsize::new(0);
///
/// #[memoize(cache = CACHE)]
/// async fn greeting(user: String) -> Result<String, std::io::Error> {
///     LOADS.fetch_add(1, Ordering::SeqCst); // a database or an HTTP call in real life
///     Ok(format!("hello, {user}"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// assert_eq!(greeting("ada".into()).await?, "hello, ada");
/// assert_eq!(greeting("ada".into()).await?, "hello, ada"); // from the cache
/// assert_eq!(greeting("bob".into()).await?, "hello, bob");
/// assert_eq!(LOADS.load(Ordering::SeqCst), 2);
/// # Ok(()) }
/// ```
///
/// # Methods
///
/// On a method (`&self`, `&mut self`, `self`), the instance is part of the key, and what
/// identifies it is yours to say with `instance`: results of one account must not be served for
/// another. A method without `instance` does not compile, rather than share its results between
/// instances.
///
/// ```
/// use cachette::{Cache, Config, memoize};
///
/// struct Accounts {
///     tenant: u32,
///     cache: Cache,
/// }
///
/// impl Accounts {
///     #[memoize(cache = self.cache, instance = self.tenant)]
///     async fn balance(&self, account: u64) -> u64 {
///         u64::from(self.tenant) * 1000 + account
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// let cache = Cache::from_config(Config::default())?;
/// let first = Accounts { tenant: 1, cache: cache.clone() };
/// let second = Accounts { tenant: 2, cache };
/// assert_eq!(first.balance(7).await?, 1007);
/// assert_eq!(second.balance(7).await?, 2007); // another instance, another entry
/// # Ok(()) }
/// ```
///
/// # Expiry from the arguments
///
/// `ttl` is evaluated on each call, where the arguments are in scope:
///
/// ```
/// # use std::sync::LazyLock;
/// use std::time::Duration;
/// use cachette::{Cache, Config, Ttl, memoize};
/// # static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());
///
/// #[memoize(cache = CACHE, ttl = Ttl::After(Duration::from_secs(valid_for)))]
/// async fn token(scope: String, valid_for: u64) -> String {
///     format!("{scope}:{valid_for}")
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// assert_eq!(token("read".into(), 60).await?, "read:60");
/// # Ok(()) }
/// ```
///
/// # Stale values and loader deadlines
///
/// With `policy`, a result past its fresh period is returned at once while one refresh runs in
/// the background, stands in for a failing loader, or for one slower than its soft deadline:
///
/// ```
/// # use std::sync::LazyLock;
/// use std::time::Duration;
/// use cachette::{Cache, Config, LoadPolicy, memoize};
/// # static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());
///
/// #[memoize(cache = CACHE, policy = LoadPolicy::new(Duration::from_secs(60))
///     .stale_while_revalidate(Duration::from_secs(600))
///     .stale_if_error(Duration::from_secs(3600)))]
/// async fn exchange_rate(currency: String) -> f64 {
///     if currency == "EUR" { 1.08 } else { 1.0 }
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// assert_eq!(exchange_rate("EUR".into()).await?, 1.08);
/// # Ok(()) }
/// ```
///
/// # Forgetting results
///
/// Two companions are generated next to the function, typed by its own parameters, so that
/// forgetting with an argument of another type (an `i32` for a `u64`) does not compile instead
/// of forgetting nothing:
///
/// * `<fn>_forget(<the function's parameters>) -> Result<bool>` forgets one argument set and
///   says whether it was there; for a method, `self.<fn>_forget(..)` (it takes `&self`, whatever
///   the method's receiver) forgets that instance's;
/// * `<fn>_forget_all(cache: &Cache) -> Result<()>` forgets every argument set (and every
///   instance), in O(1): an associated function for methods, `Accounts::balance_forget_all(&cache)`.
///
/// ```
/// # use std::sync::LazyLock;
/// use cachette::{Cache, Config, memoize};
/// # static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());
///
/// #[memoize(cache = CACHE)]
/// async fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// square(12).await?;
/// assert!(square_forget(12).await?); // that argument set
/// assert!(!square_forget(12).await?); // already gone
/// square_forget_all(&CACHE).await?; // all of them
/// # Ok(()) }
/// ```
///
/// # Flask-Caching's options
///
/// Expressions are evaluated on each call, where the arguments are in scope (closures that keep
/// one must own it: `{ let day = day.clone(); move |r: &Rates| r.day != day }`). Each is also a
/// method of `cachette::Memoized`, for code without the attribute. `T` is the result's type (the
/// `T` of a `Result<T, E>`).
///
/// **`cache_none`.** By default, as in Flask-Caching, a `None` result is returned and not
/// stored: `None` mostly means "not there yet", and a stored one would hide the row created a
/// second later for the whole lifetime. A `None` stored before is a miss. `cache_none = true`
/// stores it, to remember lookups of things that stay missing. It compiles only on functions
/// whose result is an `Option` (or an alias of one).
///
/// ```
/// # use std::sync::LazyLock;
/// # use std::sync::atomic::{AtomicUsize, Ordering};
/// use cachette::{Cache, Config, memoize};
/// # static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());
/// # static LOOKUPS: AtomicUsize = AtomicUsize::new(0);
///
/// #[memoize(cache = CACHE)]
/// async fn find_user(email: String) -> Option<u64> {
///     LOOKUPS.fetch_add(1, Ordering::SeqCst);
///     None // not signed up yet
/// }
///
/// #[memoize(cache = CACHE, cache_none = true)]
/// async fn find_country(code: String) -> Option<String> {
///     None // no such country: ask once per lifetime
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// find_user("ada@example.com".into()).await?;
/// find_user("ada@example.com".into()).await?;
/// assert_eq!(LOOKUPS.load(Ordering::SeqCst), 2); // None was not stored
/// assert_eq!(find_country("XX".into()).await?, None);
/// # Ok(()) }
/// ```
///
/// **`unless` and `forced_update`.** `unless` skips the cache for the calls it holds for: no
/// read (not even of the function's version), no write, and no hit, miss or event — a skipped
/// call is neither. `forced_update` runs the function on a hit too and stores its result (a
/// refresh on demand): it makes no read, so hooks see a store and no hit or miss.
///
/// ```
/// # use std::sync::LazyLock;
/// use cachette::{Cache, Config, memoize};
/// # static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());
///
/// #[memoize(cache = CACHE, unless = user == "admin", forced_update = refresh, args_to_ignore = [refresh])]
/// async fn dashboard(user: String, refresh: bool) -> String {
///     format!("{user}'s dashboard")
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// dashboard("admin".into(), false).await?; // always fresh, never cached
/// dashboard("ada".into(), true).await?; // rendered again and stored
/// # Ok(()) }
/// ```
///
/// **`is_stale` and `response_filter`.** Tests of the result: a stored one for which `is_stale`
/// is true is a miss (loaded again and replaced); a loaded one for which `response_filter` is
/// false is returned and not stored. An `Err` is never stored anyway.
///
/// ```
/// # use std::sync::LazyLock;
/// use cachette::{Cache, Config, memoize};
/// # static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());
/// # fn now() -> u64 { 0 }
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Token { expires_at: u64 }
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Page { status: u16, body: String }
///
/// #[memoize(cache = CACHE, is_stale = |token: &Token| token.expires_at <= now())]
/// async fn access_token(scope: String) -> Token {
///     Token { expires_at: 3600 }
/// }
///
/// #[memoize(cache = CACHE, response_filter = |page: &Page| page.status < 500)]
/// async fn render(path: String) -> Page {
///     Page { status: 200, body: format!("<h1>{path}</h1>") }
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// access_token("read".into()).await?;
/// render("/".into()).await?;
/// # Ok(()) }
/// ```
///
/// **`make_name`.** The function's name in keys, computed on each call from its name: one set of
/// results per computed name, for what the function reads besides its arguments (a language, a
/// tenant from a task-local). The computed name is hashed with the arguments under the
/// function's own name and version, never in place of them: whatever it returns, it cannot make
/// two functions share results, `_forget_all` forgets every computed name's results, and
/// `_forget` those of the name computed when it is called. It should give the same name for the
/// same context (a time or a random value makes every call a miss); metrics and hooks name the
/// function by its own name. Its input, the default name, changes with the code's path and
/// compiler (see [Names and keys](#names-and-keys)): give `name` too for names that last.
///
/// ```
/// # use std::sync::LazyLock;
/// use cachette::{Cache, Config, memoize};
/// # static CACHE: LazyLock<Cache> = LazyLock::new(|| Cache::from_config(Config::default()).unwrap());
/// # fn language() -> &'static str { "de" }
///
/// #[memoize(cache = CACHE, name = "menu", make_name = |name| format!("{name}.{}", language()))]
/// async fn menu() -> Vec<String> {
///     vec![format!("Speisekarte ({})", language())]
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// menu().await?; // one menu per language
/// # Ok(()) }
/// ```
///
/// **`args_to_ignore`.** Arguments that do not change the result — a database pool, a request
/// id — are left out of the key, so they need not be `Serialize`, and out of `<fn>_forget`'s
/// parameters (which stay typed by the others). An ignored argument that `cache` (or
/// `make_name`) uses stays a parameter of `<fn>_forget`, which needs it to find the cache.
///
/// ```
/// use cachette::{Cache, Config, memoize};
///
/// struct AppState { cache: Cache, /* a database pool, ... */ }
///
/// #[memoize(cache = state.cache, args_to_ignore = [state, request_id])]
/// async fn profile(state: &AppState, id: u64, request_id: String) -> String {
///     format!("profile {id}") // reads the database through `state`, logs `request_id`
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachette::Result<()> {
/// let state = AppState { cache: Cache::from_config(Config::default())? };
/// profile(&state, 7, "req-1".into()).await?;
/// assert_eq!(profile(&state, 7, "req-2".into()).await?, "profile 7"); // the same entry
/// assert!(profile_forget(&state, 7).await?); // no request_id: it is not in the key
/// # Ok(()) }
/// ```
///
/// # Names and keys
///
/// Results are stored as `cachette::Memoized` stores them: under
/// `memoize:<name>:<version>:<the arguments>` (their encoding in hex when it is 16 bytes or less, else
/// its hash), where forgetting all of them replaces the
/// version. The default name is the function's path, found once per function (no allocation per
/// call): `app::users::profile` for a function, `app::users::Accounts::balance` for a method or
/// an associated function, so that two types of one module with a method of the same name never
/// share results. For a method, the key also holds the instance and the name of `Self`'s type:
/// the instantiations of a generic impl share their name (`app::Repo<_>::get`, and so
/// `_forget_all` forgets them all) but never their results.
///
/// The path comes from `std::any::type_name`, whose wording a compiler release may change: then
/// entries written by the old build are missed (and age out), never misread. Give `name` for a
/// name that stays the same across builds and moves of the code. With `CACHE_SOURCE_CHECK`, a
/// hash of the function's source is added to the name (editing the function starts afresh).
///
/// `#[memoize]` works on free functions and on inherent methods and associated functions, not
/// inside trait impls (its companions are not members of the trait). The type parameters of a
/// generic function are not part of the key.
#[proc_macro_attribute]
pub fn memoize(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(attr as args::MemoizeArgs);
    let item = syn::parse_macro_input!(item as syn::ItemFn);
    function::Function::new(item)
        .and_then(|function| expand::expand(args, function))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
