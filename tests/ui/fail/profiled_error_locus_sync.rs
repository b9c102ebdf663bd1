#[fmd::profiled]
fn load() -> u32 {
    let rows: u32 = "three";
    rows
}

fn main() {}
