// What identifies `self` is `instance`'s to say, not left out.
use cachette::Cache;

struct Account {
    cache: Cache,
}

impl Account {
    #[cachette::memoize(cache = self.cache, instance = "all", args_to_ignore = [self])]
    async fn balance(&self) -> u64 {
        1
    }
}

fn main() {}
