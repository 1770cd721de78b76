// Without `instance`, every `Account` would share one result.
use cachette::Cache;

struct Account {
    id: u64,
    cache: Cache,
}

impl Account {
    #[cachette::memoize(cache = self.cache)]
    async fn balance(&self) -> u64 {
        self.id * 100
    }
}

fn main() {}
