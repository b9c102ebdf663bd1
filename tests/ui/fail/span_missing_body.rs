fn main() {
    fmd::span!("parse");
}
