#[fmd::monitored]
struct Handler {
    id: u32,
}

fn main() {}
