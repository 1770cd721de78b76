//! Selects the custom backend by configuration, as an application would:
//! `CACHE_TYPE=MapCache cargo run -p cachette-example-custom-backend`.

use cachette::{Cache, Config, Ttl};

#[tokio::main]
async fn main() -> Result<(), cachette::CacheError> {
    let mut registry = cachette::default_registry();
    cachette_example_custom_backend::register(&mut registry)?;

    let mut config = Config::from_env()?;
    if std::env::var_os("CACHE_TYPE").is_none() {
        config.cache_type = cachette_example_custom_backend::TYPE_NAME.to_owned();
    }
    let cache = Cache::from_config_with(&registry, config)?;
    println!("backend: {}", cache.backend().type_name());

    cache.set("greeting", "hello from a custom backend", Ttl::Default).await?;
    println!("greeting = {:?}", cache.get::<String>("greeting").await?);
    println!("visits = {}", cache.inc("visits", 1).await?);
    Ok(())
}
