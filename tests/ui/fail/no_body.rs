trait Api {
    #[fmd::monitored]
    fn show(&self) -> u32;
}

fn main() {}
