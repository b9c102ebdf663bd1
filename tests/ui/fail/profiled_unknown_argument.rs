#[fmd::profiled(level = 3)]
fn load() {}

fn main() {}
