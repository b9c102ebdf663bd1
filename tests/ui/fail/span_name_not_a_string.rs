fn main() {
    let _ = fmd::span!(parse, { 1 });
}
