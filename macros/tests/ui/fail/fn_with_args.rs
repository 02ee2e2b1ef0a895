#[brisk_macros::main]
async fn serve(port: u16) {}

fn main() {
    serve();
}
