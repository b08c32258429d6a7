//! Generated names for unnamed containers: `adjective_noun`, like docker.
const ADJECTIVES: &[&str] = &[
    "brave", "calm", "clever", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid",
    "merry", "nimble", "proud", "quiet", "rapid", "sharp", "steady", "sunny", "tidy", "vivid",
    "warm", "wise", "zesty", "bold", "crisp",
];
const NOUNS: &[&str] = &[
    "anchor", "beacon", "buoy", "cabin", "compass", "dock", "ferry", "galley", "harbor", "hull",
    "jetty", "keel", "lantern", "mast", "mooring", "oar", "pier", "quay", "rudder", "sail",
    "schooner", "skiff", "tide", "wharf", "yacht",
];

/// A name from two random bytes of the container's id (`salt` > 0 adds a
/// number, for when the plain name is taken).
pub fn generate(id: &str, salt: u32) -> String {
    let byte = |i: usize| usize::from_str_radix(id.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    let base = format!(
        "{}_{}",
        ADJECTIVES[byte(0) % ADJECTIVES.len()],
        NOUNS[byte(2) % NOUNS.len()]
    );
    if salt == 0 {
        base
    } else {
        format!("{base}{salt}")
    }
}
