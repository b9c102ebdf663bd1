#[fmd::profiled]
struct Cache;

fn main() {}
