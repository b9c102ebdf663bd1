#[fmd::monitored]
fn count(items: &[u32]) -> u32 {
    let total: u32 = items.iter().sum();
    total + undefined_value
}

fn main() {}
