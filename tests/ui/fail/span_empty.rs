fn main() {
    fmd::span!();
}
